import type { Command } from 'commander';
import { CliError } from './errors.js';

// Placeholder until the owning module lands; replaced by the real command.
export function register(program: Command): void {
  program
    .command('proxy-config')
    .description('(in progress)')
    .allowUnknownOption()
    .action(() => {
      throw new CliError('clew proxy-config: not implemented yet');
    });
}
