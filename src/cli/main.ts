/**
 * The `liubai` command line: the composition root. `bin/liubai.mjs` calls {@link main}.
 * Each subcommand is imported when it runs, so `liubai serve` never loads the simulation or
 * evaluation code (and a problem there cannot keep the server from starting).
 */

const USAGE = 'usage: liubai <serve|simulate|sweep|evaluate|train> [options]   (liubai serve --help)';

/**
 * Run one `liubai` command; sets `process.exitCode` (2 = bad usage).
 * @param argv the arguments after the executable (`['serve', '--port', '9000']`)
 */
export async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { serve } = await import('./serve.js');
      await serve(rest, process.env);
      return;
    }
    case 'simulate': {
      const { simulateCommand } = await import('./simulate.js');
      process.exitCode = await simulateCommand(rest);
      return;
    }
    case 'sweep': {
      const { sweepCommand } = await import('./sweep.js');
      process.exitCode = await sweepCommand(rest);
      return;
    }
    case 'train': {
      const { trainCommand } = await import('./train.js');
      process.exitCode = await trainCommand(rest);
      return;
    }
    case 'evaluate': {
      const { evaluateCommand } = await import('./evaluate.js');
      process.exitCode = await evaluateCommand(rest);
      return;
    }
    default:
      console.log(USAGE);
      if (command !== undefined && command !== 'help' && command !== '--help') process.exitCode = 2;
  }
}
