/** `clew proxy-status [-o json]`: istioctl's sync table for every connected proxy. */
import type { Command } from 'commander';
import { callControlPlane, DEFAULT_CONTROL_PLANE } from './control-plane-client.js';
import { CliError } from './errors.js';
import { parseOutput, table } from './output.js';
import { API_PATHS } from '../api/api-paths.js';
import type { ProxyStatusRow } from '../api/api-types.js';

export function register(program: Command): void {
  program
    .command('proxy-status')
    .description('show whether each connected proxy is in sync with the control plane (SYNCED, NOT SENT, STALE, NACK)')
    .argument('[proxy]', 'only this proxy (name.namespace)')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--control-plane <url>', 'control-plane debug URL', DEFAULT_CONTROL_PLANE)
    .action(async (proxy: string | undefined, opts) => {
      const format = parseOutput(opts.output, ['table', 'json']);
      const res = await callControlPlane<ProxyStatusRow[]>(opts.controlPlane, 'GET', API_PATHS.proxyStatus);
      if (res.status !== 200) throw new CliError(`control plane answered HTTP ${res.status}`);
      let rows = res.body;
      if (proxy) rows = rows.filter((r) => r.name === proxy || r.nodeId === proxy || r.name.split('.')[0] === proxy);
      if (format === 'json') {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        table(
          ['NAME', 'TYPE', 'CDS', 'LDS', 'EDS', 'RDS', 'CONTROL PLANE'],
          rows.map((r) => [r.name, r.type, r.CDS, r.LDS, r.EDS, r.RDS, opts.controlPlane]),
        ),
      );
      const nacks = rows.flatMap((r) => r.nacks.map((n) => `${r.name} ${n.type} NACK: ${n.message}`));
      if (nacks.length) process.stdout.write(`\n${nacks.join('\n')}\n`);
    });
}
