/**
 * `clew proxy-config listeners|routes|clusters|endpoints|secret PROXY [-o json]`: istioctl's view
 * of a proxy's config (secrets from the proxy's own admin API: proxy-config-secret.ts).
 */
import type { Command } from 'commander';
import { callControlPlane, DEFAULT_CONTROL_PLANE } from './control-plane-client.js';
import { CliError, UsageError } from './errors.js';
import { parseOutput, table } from './output.js';
import { fetchSecretsDump, proxyAdminUrl, secretTable } from './proxy-config-secret.js';
import { API_PATHS } from '../api/api-paths.js';
import type { ConfigDumpResponse } from '../api/api-types.js';

const SECTIONS = ['listeners', 'routes', 'clusters', 'endpoints'] as const;
type Section = (typeof SECTIONS)[number];
const ALIAS: Record<string, Section> = {
  listener: 'listeners', listeners: 'listeners', l: 'listeners',
  route: 'routes', routes: 'routes', r: 'routes',
  cluster: 'clusters', clusters: 'clusters', c: 'clusters',
  endpoint: 'endpoints', endpoints: 'endpoints', ep: 'endpoints', e: 'endpoints',
};
const DUMP_TYPE: Record<Section, string> = {
  listeners: 'ListenersConfigDump', routes: 'RoutesConfigDump', clusters: 'ClustersConfigDump', endpoints: 'EndpointsConfigDump',
};

function items(dump: any, section: Section): any[] {
  const cfg = (dump.configs ?? []).find((c: any) => String(c['@type']).endsWith(DUMP_TYPE[section])) ?? {};
  switch (section) {
    case 'listeners': return (cfg.dynamic_listeners ?? []).map((l: any) => l.active_state?.listener).filter(Boolean);
    case 'routes': return (cfg.dynamic_route_configs ?? []).map((r: any) => r.route_config);
    case 'clusters': return (cfg.dynamic_active_clusters ?? []).map((c: any) => c.cluster);
    case 'endpoints': return (cfg.dynamic_endpoint_configs ?? []).map((e: any) => e.endpoint_config);
  }
}

function filterDestination(fc: any): string {
  for (const f of fc.filters ?? []) {
    const tc = f.typed_config ?? {};
    if (tc.rds) return `Route: ${tc.rds.route_config_name}`;
    if (tc.route_config) return `Inline Route: ${tc.route_config.name ?? ''}`;
    if (tc.cluster) return `Cluster: ${tc.cluster}`;
    if (tc.weighted_clusters) return `Clusters: ${(tc.weighted_clusters.clusters ?? []).map((c: any) => c.name).join(',')}`;
  }
  return 'Non-HTTP/Non-TCP';
}

function rowsFor(section: Section, list: any[]): [string[], string[][]] {
  switch (section) {
    case 'clusters':
      return [['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE'], list.map((c) => {
        const parts = String(c.name).split('|');
        const type = c.type ?? (c.cluster_type ? 'CUSTOM' : 'EDS');
        return parts.length === 4
          ? [parts[3], parts[1], parts[2] || '-', parts[0], type]
          : [c.name, '-', '-', '-', type];
      })];
    case 'listeners':
      return [['NAME', 'ADDRESS', 'PORT', 'MATCH', 'DESTINATION'], list.flatMap((l) => {
        const sa = l.address?.socket_address ?? {};
        if (l.api_listener) return [[l.name, '-', '-', 'api_listener', 'Proxyless gRPC']];
        return (l.filter_chains ?? [{}]).map((fc: any) => [
          l.name, sa.address ?? '-', String(sa.port_value ?? '-'),
          fc.filter_chain_match ? JSON.stringify(fc.filter_chain_match) : 'ALL', filterDestination(fc),
        ]);
      })];
    case 'routes':
      return [['NAME', 'VHOST NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'], list.flatMap((rc) =>
        (rc.virtual_hosts ?? []).flatMap((vh: any) => (vh.routes ?? [{}]).map((r: any) => {
          const m = r.match ?? {};
          const match = m.prefix !== undefined ? `${m.prefix}*` : m.path ?? (m.safe_regex ? `~${m.safe_regex.regex}` : '/*');
          const domains = (vh.domains ?? []).filter((d: string) => !d.includes(':'));
          return [rc.name, vh.name, domains.slice(0, 3).join(', ') + (domains.length > 3 ? ` + ${domains.length - 3} more...` : ''),
            match, r.metadata?.filter_metadata?.istio?.config ?? r.name ?? '-'];
        })))];
    case 'endpoints':
      return [['ENDPOINT', 'STATUS', 'CLUSTER'], list.flatMap((cla) =>
        (cla.endpoints ?? []).flatMap((le: any) => (le.lb_endpoints ?? []).map((e: any) => {
          const sa = e.endpoint?.address?.socket_address ?? {};
          return [`${sa.address}:${sa.port_value}`, e.health_status ?? 'HEALTHY', cla.cluster_name];
        })))];
  }
}

export function register(program: Command): void {
  program
    .command('proxy-config')
    .description('show the listeners, routes, clusters or endpoints the control plane serves to a proxy, or the secrets (certificates) the proxy holds')
    .argument('<section>', 'listeners | routes | clusters | endpoints | secret')
    .argument('<proxy>', 'proxy name.namespace, or its node id')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--control-plane <url>', 'control-plane debug URL', DEFAULT_CONTROL_PLANE)
    .option('--admin <url>', "secret: the proxy's admin URL (default: its address from the control plane, port 15000)")
    .action(async (sectionArg: string, proxy: string, opts) => {
      if (['secret', 'secrets', 's'].includes(sectionArg.toLowerCase())) {
        const format = parseOutput(opts.output, ['table', 'json']);
        const admin = opts.admin ?? (await proxyAdminUrl(opts.controlPlane, proxy));
        const dump = await fetchSecretsDump(admin);
        process.stdout.write(format === 'json' ? JSON.stringify(dump, null, 2) + '\n' : secretTable(dump));
        return;
      }
      const section = ALIAS[sectionArg.toLowerCase()];
      if (!section) throw new UsageError(`unknown section ${JSON.stringify(sectionArg)}; use one of ${SECTIONS.join(', ')}`);
      const format = parseOutput(opts.output, ['table', 'json']);
      const res = await callControlPlane<ConfigDumpResponse>(opts.controlPlane, 'GET', `${API_PATHS.configDump}?proxyID=${encodeURIComponent(proxy)}`);
      if (res.status === 404) throw new CliError(`proxy ${proxy} is not connected to ${opts.controlPlane}`, 1);
      if (res.status !== 200) throw new CliError(`control plane answered HTTP ${res.status}`);
      const list = items(res.body, section);
      if (format === 'json') {
        process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        return;
      }
      const [headers, rows] = rowsFor(section, list);
      process.stdout.write(table(headers, rows));
    });
}
