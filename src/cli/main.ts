/**
 * The `liubai` command line: the composition root. `bin/liubai.mjs` calls {@link main}.
 */
import { serve } from './serve.js';

const USAGE = 'usage: liubai <serve|simulate|evaluate|sweep|train> [options]   (liubai serve --help)';

/**
 * Run one `liubai` command.
 * @param argv the arguments after the executable (`['serve', '--port', '9000']`)
 */
export async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      await serve(rest, process.env);
      return;
    default:
      console.log(USAGE);
      if (command !== undefined && command !== 'help' && command !== '--help') process.exitCode = 2;
  }
}
