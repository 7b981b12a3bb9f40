/** The lists: services, workloads (with proxy sync), Istio config (validation, YAML), proxies (listeners/routes/clusters). */
import type { AnalyzeResponse, ConfigListResponse, ProxyStatusRow, ServiceListResponse, WorkloadListResponse } from '../../api/api-types.js';
import type { AnalysisMessage } from '../../analyze/analyze-message.js';
import { api, el, healthDot, percent, rate, setStatus, table } from './ui-util.js';

function fail(main: HTMLElement, err: unknown): void {
  setStatus((err as Error).message, true);
  main.replaceChildren(el('p', { class: 'messages' }, (err as Error).message));
}

function sync(s: string): HTMLSpanElement {
  return el('span', { class: `badge sync-${s.split(' ')[0]}` }, s);
}

export async function showServices(main: HTMLElement): Promise<void> {
  try {
    const r = await api<ServiceListResponse>('services');
    const rows = r.items.map((s) => el('tr', { 'data-service': s.hostname, 'data-health': s.health },
      el('td', {}, healthDot(s.health), s.name), el('td', {}, s.namespace), el('td', {}, s.hostname),
      el('td', {}, s.ports.map((p) => `${p.name || p.protocol} ${p.port}`).join(', ')),
      el('td', {}, `${s.healthyEndpoints}/${s.endpoints}`), el('td', {}, rate(s.rate)), el('td', {}, percent(s.errorRate)), el('td', {}, s.origin)));
    main.replaceChildren(el('h2', {}, `Services (${r.items.length})`),
      table(['Name', 'Namespace', 'Host', 'Ports', 'Healthy endpoints', 'Requests/s (1m)', 'Errors', 'Origin'], rows, { id: 'services' }));
    setStatus('');
  } catch (err) {
    fail(main, err);
  }
}

export async function showWorkloads(main: HTMLElement): Promise<void> {
  try {
    const r = await api<WorkloadListResponse>('workloads');
    const rows = r.items.map((w) => el('tr', { 'data-workload': `${w.namespace}/${w.name}`, 'data-health': w.health },
      el('td', {}, healthDot(w.health), w.name), el('td', {}, w.namespace), el('td', {}, w.app ?? '-'), el('td', {}, w.version ?? '-'),
      el('td', {}, w.address), el('td', {}, rate(w.rate)), el('td', {}, percent(w.errorRate)),
      ...(w.sync ? (['CDS', 'LDS', 'EDS', 'RDS'] as const).map((t) => el('td', {}, sync(w.sync![t]))) : [el('td', { colspan: '4' }, 'no proxy connected')]),
      el('td', {}, ...(w.sync?.nacks ?? []).map((n) => el('div', { class: 'messages' }, `${n.type}: ${n.message}`)))));
    main.replaceChildren(el('h2', {}, `Workloads (${r.items.length})`),
      table(['Name', 'Namespace', 'App', 'Version', 'Address', 'Requests/s (1m)', 'Errors', 'CDS', 'LDS', 'EDS', 'RDS', 'NACKs'], rows, { id: 'workloads' }));
    setStatus('');
  } catch (err) {
    fail(main, err);
  }
}

/** istioctl analyze's level as a badge (the validation states' colours: Error red, Warning orange, Info green). */
function levelBadge(m: AnalysisMessage): HTMLSpanElement {
  const state = m.level === 'Error' ? 'error' : m.level === 'Warning' ? 'warning' : 'valid';
  return el('span', { class: `badge state-${state}`, 'data-code': m.code, 'data-level': m.level, title: `${m.level} ${m.name}: ${m.message}` }, `${m.code} ${m.level}`);
}

export async function showConfig(main: HTMLElement): Promise<void> {
  try {
    // the same messages as `clew analyze --control-plane`: one engine, one endpoint
    const [r, analysis] = await Promise.all([api<ConfigListResponse>('config'), api<AnalyzeResponse>('analyze')]);
    const byResource = new Map<string, AnalysisMessage[]>();
    for (const m of analysis.messages) {
      const key = `${m.kind}/${m.namespace}/${m.resourceName}`;
      byResource.set(key, [...(byResource.get(key) ?? []), m]);
    }
    const yaml = el('pre', { id: 'config-yaml' }, 'Click a resource for its YAML.');
    const rows = r.items.map((c) => {
      const found = byResource.get(c.key) ?? [];
      const tr = el('tr', { class: 'clickable', 'data-config': c.key, 'data-state': c.state, 'data-codes': found.map((m) => m.code).join(' ') },
        el('td', {}, c.kind), el('td', {}, c.namespace), el('td', {}, c.name),
        el('td', {}, el('span', { class: `badge state-${c.state}` }, c.state)), el('td', {}, c.file ?? '-'),
        el('td', {}, ...found.map(levelBadge)),
        el('td', {}, ...c.messages.map((m) => el('div', { class: 'messages' }, m))));
      tr.addEventListener('click', () => {
        main.querySelectorAll('tr.selected').forEach((x) => x.classList.remove('selected'));
        tr.classList.add('selected');
        yaml.textContent = c.yaml;
      });
      return tr;
    });
    const rejected = r.rejected.map((f) => el('tr', { 'data-rejected': f.file, 'data-state': 'error' },
      el('td', {}, el('span', { class: 'badge state-error' }, 'error')), el('td', {}, f.file),
      el('td', {}, ...f.messages.map((m) => el('div', { class: 'messages' }, m)))));
    const findings = analysis.messages.map((m) => el('tr', {
      'data-code': m.code, 'data-level': m.level, 'data-resource': `${m.kind}/${m.namespace}/${m.resourceName}`,
    }, el('td', {}, levelBadge(m)), el('td', {}, m.name), el('td', {}, `${m.kind} ${m.namespace}/${m.resourceName}`),
    el('td', {}, m.file ? `${m.file}${m.line ? `:${m.line}` : ''}` : '-'), el('td', {}, m.message)));
    main.replaceChildren(
      el('h2', {}, `Refused files (${r.rejected.length})`),
      r.rejected.length ? table(['State', 'File', 'Messages'], rejected, { id: 'rejected' }) : el('p', { class: 'muted', id: 'rejected' }, 'none: every file in the config dir is valid'),
      el('h2', {}, `Analysis (${analysis.messages.length}, as clew analyze)`),
      findings.length ? table(['Code', 'Name', 'Resource', 'File', 'Message'], findings, { id: 'analysis' }) : el('p', { class: 'muted', id: 'analysis' }, 'No validation issues found.'),
      el('h2', {}, `Istio config (${r.items.length}, revision ${r.revision})`),
      table(['Kind', 'Namespace', 'Name', 'State', 'File', 'Analysis', 'Messages'], rows, { id: 'config' }),
      yaml,
    );
    setStatus('');
  } catch (err) {
    fail(main, err);
  }
}

type Json = Record<string, any>;

function addressOf(a: Json | undefined): string {
  const s = a?.socket_address ?? a?.socketAddress;
  return s ? `${s.address}:${s.port_value ?? s.portValue ?? ''}` : '-';
}

function dumpSection(dump: Json, type: string): Json | undefined {
  return (dump.configs as Json[] | undefined)?.find((c) => String(c['@type']).endsWith(type));
}

async function showProxyConfig(target: HTMLElement, proxy: string): Promise<void> {
  try {
    const dump = await api<Json>(`config_dump?proxyID=${encodeURIComponent(proxy)}`);
    const listeners = (dumpSection(dump, 'ListenersConfigDump')?.dynamic_listeners ?? []) as Json[];
    const routes = (dumpSection(dump, 'RoutesConfigDump')?.dynamic_route_configs ?? []) as Json[];
    const clusters = (dumpSection(dump, 'ClustersConfigDump')?.dynamic_active_clusters ?? []) as Json[];
    const lrows = listeners.map((l) => {
      const x = (l.active_state?.listener ?? {}) as Json;
      const chains = (x.filter_chains ?? x.filterChains ?? []) as Json[];
      return el('tr', { 'data-listener': String(x.name) }, el('td', {}, String(x.name)), el('td', {}, addressOf(x.address)), el('td', {}, String(chains.length)));
    });
    const rrows = routes.flatMap((r) => {
      const rc = (r.route_config ?? {}) as Json;
      const vhs = (rc.virtual_hosts ?? rc.virtualHosts ?? []) as Json[];
      return vhs.map((vh) => el('tr', { 'data-route': String(rc.name) }, el('td', {}, String(rc.name)), el('td', {}, String(vh.name)),
        el('td', {}, ((vh.domains ?? []) as string[]).slice(0, 6).join(', ')), el('td', {}, String(((vh.routes ?? []) as Json[]).length))));
    });
    const crows = clusters.map((c) => {
      const x = (c.cluster ?? {}) as Json;
      return el('tr', { 'data-cluster': String(x.name) }, el('td', {}, String(x.name)), el('td', {}, String(x.type ?? (x.eds_cluster_config || x.edsClusterConfig ? 'EDS' : '-'))));
    });
    target.replaceChildren(
      el('h2', {}, `Listeners of ${proxy} (${lrows.length})`), table(['Name', 'Address', 'Filter chains'], lrows, { id: 'listeners' }),
      el('h2', {}, `Routes (${rrows.length} virtual hosts)`), table(['Route config', 'Virtual host', 'Domains', 'Routes'], rrows, { id: 'routes' }),
      el('h2', {}, `Clusters (${crows.length})`), table(['Name', 'Type'], crows, { id: 'clusters' }),
    );
  } catch (err) {
    target.replaceChildren(el('p', { class: 'messages' }, (err as Error).message));
  }
}

export async function showProxies(main: HTMLElement, selected?: string): Promise<void> {
  try {
    const rows = await api<ProxyStatusRow[]>('proxies');
    const detail = el('div', { id: 'proxy-config' }, el('p', { class: 'muted' }, 'Click a proxy for its listeners, routes and clusters.'));
    const trs = rows.map((p) => {
      const tr = el('tr', { class: 'clickable', 'data-proxy': p.name },
        el('td', {}, p.name), el('td', {}, p.type), ...(['CDS', 'LDS', 'EDS', 'RDS'] as const).map((t) => el('td', {}, sync(p[t]))),
        el('td', {}, ...p.nacks.map((n) => el('div', { class: 'messages' }, `${n.type}: ${n.message}`))));
      tr.addEventListener('click', () => {
        location.hash = `#/proxies/${encodeURIComponent(p.name)}`;
      });
      if (p.name === selected) tr.classList.add('selected');
      return tr;
    });
    main.replaceChildren(el('h2', {}, `Proxies (${rows.length})`), table(['Name', 'Type', 'CDS', 'LDS', 'EDS', 'RDS', 'NACKs'], trs, { id: 'proxies' }), detail);
    if (selected) await showProxyConfig(detail, selected);
    setStatus('');
  } catch (err) {
    fail(main, err);
  }
}
