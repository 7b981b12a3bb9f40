import type { Command } from 'commander';
import { CliError } from './errors.js';

// Placeholder until the owning module lands; replaced by the real command.
export function register(program: Command): void {
  program
    .command('demo')
    .description('(in progress)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('clew demo: not implemented yet');
    });
}
