/** `clew delete -f PATH` or `clew delete KIND NAME [-n NS]`. */
import type { Command } from 'commander';
import { callControlPlane, DEFAULT_CONTROL_PLANE } from './control-plane-client.js';
import { CliError, UsageError } from './errors.js';
import { qualifiedName, resolveKind } from './kinds.js';
import { collect } from './cli-options.js';
import { sendFiles } from './cmd-apply.js';
import { resourcePath } from '../api/api-paths.js';
import type { ApiError, ApplyResponse } from '../api/api-types.js';

export function register(program: Command): void {
  program
    .command('delete')
    .description('delete configuration from the control plane')
    .argument('[kind]', 'kind, e.g. virtualservice or vs')
    .argument('[name]', 'resource name')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--control-plane <url>', 'control-plane debug URL', DEFAULT_CONTROL_PLANE)
    .option('--token-file <file>', "the control plane's admin token (default: $CLEW_CONTROL_PLANE_TOKEN, then the token the control plane published for this user)")
    .action(async (kindArg: string | undefined, nameArg: string | undefined, opts) => {
      const call = { tokenFile: opts.tokenFile };
      if (opts.filename) {
        const ok = await sendFiles('delete', opts.controlPlane, opts.filename, (s) => process.stdout.write(s), call);
        if (!ok) throw new CliError('delete failed', 1);
        return;
      }
      if (!kindArg || !nameArg) throw new UsageError('give -f PATH, or KIND and NAME');
      const kind = resolveKind(kindArg);
      const res = await callControlPlane<ApplyResponse | ApiError>(
        opts.controlPlane, 'DELETE', resourcePath(kind, opts.namespace, nameArg), undefined, call,
      );
      if (res.status !== 200 && res.status !== 404) throw new CliError(`control plane answered HTTP ${res.status}: ${(res.body as ApiError).error ?? ''}`, 1);
      if (res.status === 404) throw new CliError(`${qualifiedName(kind, nameArg)} not found in namespace ${opts.namespace}`, 1);
      process.stdout.write(`${qualifiedName(kind, nameArg)} deleted\n`);
    });
}
