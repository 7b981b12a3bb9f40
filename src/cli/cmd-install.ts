/**
 * `clew install` and `clew uninstall` (istioctl's): the objects of src/kube/install/install-manifest.ts,
 * printed (`--dry-run -o yaml|json`, e.g. for `kubectl apply --dry-run=server -f -`) or applied
 * with server-side apply (field manager `clew-install`); uninstall deletes exactly those objects.
 */
import type { Command } from 'commander';
import { CliError, UsageError } from './errors.js';

export async function kubeClientFor(kubeconfig: string | undefined) {
  const { KubeClient } = await import('../kube/kube-client.js');
  try {
    return kubeconfig ? KubeClient.fromFile(kubeconfig) : KubeClient.fromDefault();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function register(program: Command): void {
  program
    .command('install')
    .description('install the control plane into a Kubernetes cluster: namespace, CRDs, RBAC, Deployment, Service, webhooks, mesh ConfigMap')
    .option('--dry-run', 'print the objects instead of applying them')
    .option('-o, --output <format>', 'with --dry-run: yaml or json', 'yaml')
    .option('--kubeconfig <file>', 'cluster to install into (default: $KUBECONFIG, ~/.kube/config)')
    .option('--image <image>', "Clew's image (control plane and injected sidecars)", 'clew:latest')
    .action(async (opts) => {
      const { installObjects, objectPath, DEFAULT_INSTALL } = await import('../kube/install/install-manifest.js');
      const objects = installObjects({ ...DEFAULT_INSTALL, image: opts.image });
      if (opts.dryRun) {
        if (opts.output === 'json') {
          process.stdout.write(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n`);
        } else if (opts.output === 'yaml') {
          const { stringify } = await import('yaml');
          process.stdout.write(objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n'));
        } else {
          throw new UsageError(`install: unknown output format "${opts.output}" (yaml or json)`);
        }
        return;
      }
      const c = await kubeClientFor(opts.kubeconfig);
      try {
        for (const o of objects) {
          try {
            await c.request('PATCH', objectPath(o), o, { contentType: 'application/apply-patch+yaml', query: { fieldManager: 'clew-install', force: true } });
          } catch (err) {
            throw new CliError(`install: ${o.kind} ${o.metadata.name}: ${(err as Error).message}`);
          }
          process.stdout.write(`applied ${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}\n`);
        }
      } finally {
        c.close();
      }
    });
}
