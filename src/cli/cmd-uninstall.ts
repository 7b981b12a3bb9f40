/** `clew uninstall`: deletes exactly the objects `clew install` applies (istioctl uninstall's role). */
import type { Command } from 'commander';
import { CliError } from './errors.js';
import { kubeClientFor } from './cmd-install.js';

export function register(program: Command): void {
  program
    .command('uninstall')
    .description('remove what clew install added')
    .option('--kubeconfig <file>', 'cluster (default: $KUBECONFIG, ~/.kube/config)')
    .action(async (opts) => {
      const { installObjects, objectPath } = await import('../kube/install/install-manifest.js');
      const { isNotFound } = await import('../kube/kube-errors.js');
      const c = await kubeClientFor(opts.kubeconfig);
      try {
        for (const o of installObjects().reverse()) {
          try {
            await c.request('DELETE', objectPath(o), undefined, { query: { propagationPolicy: 'Background' } });
            process.stdout.write(`deleted ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}\n`);
          } catch (err) {
            if (!isNotFound(err)) throw new CliError(`uninstall: ${o.kind} ${o.metadata.name}: ${(err as Error).message}`);
          }
        }
      } finally {
        c.close();
      }
    });
}
