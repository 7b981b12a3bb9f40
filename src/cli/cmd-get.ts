/** `clew get KIND [NAME] [-n NS | -A] [-o table|yaml|json]`. */
import type { Command } from 'commander';
import YAML from 'yaml';
import type { ConfigResource } from '../config/types.js';
import { callControlPlane, DEFAULT_CONTROL_PLANE } from './control-plane-client.js';
import { CliError } from './errors.js';
import { resolveKind } from './kinds.js';
import { KINDS, kindDefinition } from '../config/kinds.js';
import { parseOutput, table } from './output.js';
import { API_PATHS } from '../api/api-paths.js';
import type { ResourcesResponse } from '../api/api-types.js';

/** The kind's columns from the kinds table. */
function summary(r: ConfigResource): Record<string, string> {
  return kindDefinition(r.kind)?.columns?.(r.spec ?? {}) ?? {};
}

function clean(r: ConfigResource): Omit<ConfigResource, 'source'> {
  const { source: _source, ...rest } = r;
  return rest;
}

export function register(program: Command): void {
  program
    .command('get')
    .description('list configuration held by the control plane')
    .argument('<kind>', `kind: ${KINDS.map((k) => [k.plural, ...k.shortNames].join(', ')).join(', ')}`)
    .argument('[name]', 'resource name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'every namespace')
    .option('-o, --output <format>', 'table, yaml or json', 'table')
    .option('--control-plane <url>', 'control-plane debug URL', DEFAULT_CONTROL_PLANE)
    .action(async (kindArg: string, name: string | undefined, opts) => {
      const format = parseOutput(opts.output);
      const kind = resolveKind(kindArg);
      const params = new URLSearchParams({ kind });
      if (!opts.allNamespaces) params.set('namespace', opts.namespace);
      if (name) params.set('name', name);
      const res = await callControlPlane<ResourcesResponse>(opts.controlPlane, 'GET', `${API_PATHS.resources}?${params}`);
      if (res.status !== 200) throw new CliError(`control plane answered HTTP ${res.status}`);
      const items = res.body.items;
      if (name && items.length === 0) throw new CliError(`${kind} ${JSON.stringify(name)} not found in namespace ${opts.namespace}`, 1);
      if (format === 'json') {
        const data = name ? clean(items[0]) : { apiVersion: 'v1', kind: 'List', items: items.map(clean) };
        process.stdout.write(JSON.stringify(data, null, 2) + '\n');
        return;
      }
      if (format === 'yaml') {
        const data = name ? clean(items[0]) : { apiVersion: 'v1', kind: 'List', items: items.map(clean) };
        process.stdout.write(YAML.stringify(data, { version: '1.1' })); // quoted so that `clew apply` reads back the same strings
        return;
      }
      if (items.length === 0) {
        process.stderr.write(`No resources found${opts.allNamespaces ? '' : ` in ${opts.namespace} namespace`}.\n`);
        return;
      }
      const extra = Object.keys(summary(items[0]));
      const headers = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'NAME', ...extra];
      const rows = items.map((r) => {
        const s = summary(r);
        return [...(opts.allNamespaces ? [r.metadata.namespace] : []), r.metadata.name, ...extra.map((k) => s[k] ?? '')];
      });
      process.stdout.write(table(headers, rows));
    });
}
