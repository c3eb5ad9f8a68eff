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
  if (command !== 'serve' && !(await applyNeuralBackendEnv(process.env['LIUBAI_NEURAL_BACKEND']))) {
    process.exitCode = 2;
    return;
  }
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

/**
 * `LIUBAI_NEURAL_BACKEND` for the commands other than `serve` (whose settings read it with the
 * rest): a comma-separated preference of tensorflow.js backends. @returns false (after printing
 * the problem) when it names an unknown backend
 */
async function applyNeuralBackendEnv(raw: string | undefined): Promise<boolean> {
  if (raw === undefined || raw.trim() === '') return true;
  const [{ commaList, neuralBackendsSchema }, { setNeuralBackendPreference }] = await Promise.all([
    import('./settings.js'),
    import('../policies/neural-linear/backend.js'),
  ]);
  const parsed = neuralBackendsSchema.safeParse(commaList(raw));
  if (!parsed.success) {
    console.error(`liubai: LIUBAI_NEURAL_BACKEND: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return false;
  }
  setNeuralBackendPreference(parsed.data);
  return true;
}
