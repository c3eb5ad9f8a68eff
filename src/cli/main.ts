/**
 * The `liubai` command line: the composition root. Subcommands are added as their issues land.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const [command] = argv;
  switch (command) {
    case 'serve':
      console.log('liubai: the HTTP server is not built yet (see issue "Serving"); nothing to serve.');
      return;
    default:
      console.log('usage: liubai <serve|simulate|evaluate|sweep|train> [options]');
      if (command !== undefined && command !== 'help' && command !== '--help') process.exitCode = 2;
  }
}
