/**
 * `clew`: the command-line entry. Commands are registered from one explicit list; each lives in
 * its own module `cmd-<name>.ts` exporting `register(program)`, imported only when the command
 * line needs it (commands.ts).
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './errors.js';
import { commandsFor } from './commands.js';
import { holdYoungGeneration } from './proxy-heap.js';

export async function main(argv: string[]): Promise<void> {
  // before the proxy's modules load: see proxy-heap.ts (released once the proxy is ready)
  if (argv[2] === 'proxy') holdYoungGeneration();
  const program = new Command();
  program
    .name('clew')
    .description('Clew: a service mesh for Node.js. Istio APIs in, Envoy xDS out, a TypeScript sidecar.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const c of commandsFor(argv)) (await c.load()).register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') {
        process.exit(0);
      }
      process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    throw err;
  }
}
