/**
 * A generated mesh for the dashboard's scale test and bench (issue 21, Must show 2): N services
 * (Kubernetes Services, one or two versions each as WorkloadEntries), called as a binary tree
 * (service i's workloads call services 2i+1 and 2i+2) from an ingress gateway, and the Istio
 * metrics every one of their sidecars would serve (Prometheus text: istio_requests_total and
 * istio_request_duration_milliseconds buckets, reporter source and destination, 200s and a few
 * 503s, mutual TLS). The text goes through the scraper's own parser into the control plane's
 * metrics window (`addScrape`, the scraper's entry point), so the graph endpoint does its real work.
 */
import { parsePromText } from '../../src/mesh-metrics/prom-text.js';
import { SCRAPED_FAMILIES, type MetricsWindowStore } from '../../src/mesh-metrics/metrics-window.js';

/** Istio's default istio_request_duration_milliseconds buckets */
const LES = ['0.5', '1', '5', '10', '25', '50', '100', '250', '500', '1000', '2500', '5000', '10000', '30000', '60000', '300000', '600000', '1800000', '3600000', '+Inf'];

export interface ScaleWorkload {
  name: string;
  namespace: string;
  app: string;
  version: string;
  address: string;
}

export interface ScaleMesh {
  services: number;
  workloads: ScaleWorkload[];
  /** config-dir YAML: Services and WorkloadEntries */
  yaml: string;
  /** expected graph edges (caller workload -> service, service -> workload) */
  edgeCount: number;
}

export const svcName = (i: number): string => `svc-${String(i).padStart(3, '0')}`;
const NS = (i: number): string => `team-${i % 4}`;

export function generateScaleMesh(services: number): ScaleMesh {
  const workloads: ScaleWorkload[] = [];
  const docs: string[] = [];
  for (let i = 0; i < services; i++) {
    const name = svcName(i);
    const ns = NS(i);
    docs.push(`apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  selector: {app: ${name}}\n  ports: [{name: http, port: 8080}]\n`);
    for (const version of i % 3 === 0 ? ['v1', 'v2'] : ['v1']) {
      const w = { name: `${name}-${version}`, namespace: ns, app: name, version, address: `10.${20 + (workloads.length >> 16)}.${(workloads.length >> 8) & 255}.${workloads.length & 255}` };
      workloads.push(w);
      docs.push(`apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: ${w.name}, namespace: ${ns}, labels: {app: ${name}, version: ${version}}}\nspec:\n  address: ${w.address}\n  labels: {app: ${name}, version: ${version}}\n  serviceAccount: ${name}\n`);
    }
  }
  let edgeCount = 0;
  for (let i = 0; i < services; i++) {
    const versions = i % 3 === 0 ? 2 : 1;
    edgeCount += versions; // service -> each version
    const callees = [2 * i + 1, 2 * i + 2].filter((c) => c < services).length;
    edgeCount += versions * callees; // each version -> each callee service
  }
  edgeCount += 1; // ingress -> svc-000
  return { services, workloads, yaml: docs.join('---\n'), edgeCount };
}

function labels(l: Record<string, string>): string {
  return Object.entries(l).map(([k, v]) => `${k}="${v}"`).join(',');
}

interface Call { src: { name: string; namespace: string; app: string; version: string }; dst: ScaleWorkload; service: string; serviceNs: string }

function calls(mesh: ScaleMesh): Call[] {
  const byApp = new Map<string, ScaleWorkload[]>();
  for (const w of mesh.workloads) byApp.set(w.app, [...(byApp.get(w.app) ?? []), w]);
  const out: Call[] = [];
  const ingress = { name: 'istio-ingressgateway', namespace: 'istio-system', app: 'istio-ingressgateway', version: 'latest' };
  for (const dst of byApp.get(svcName(0)) ?? []) out.push({ src: ingress, dst, service: svcName(0), serviceNs: NS(0) });
  for (let i = 0; i < mesh.services; i++) {
    for (const src of byApp.get(svcName(i)) ?? []) {
      for (const c of [2 * i + 1, 2 * i + 2]) {
        if (c >= mesh.services) continue;
        for (const dst of byApp.get(svcName(c)) ?? []) out.push({ src, dst, service: svcName(c), serviceNs: NS(c) });
      }
    }
  }
  return out;
}

/**
 * One scrape of every proxy (proxy id -> Prometheus text) after `requests` requests per call
 * (1 in 50 a 503). Counters are cumulative: pass a growing `requests` for later scrapes.
 */
export function scrapeTexts(mesh: ScaleMesh, requests: number): Map<string, string> {
  const texts = new Map<string, string[]>();
  const add = (proxy: string, line: string) => {
    let t = texts.get(proxy);
    if (!t) texts.set(proxy, (t = []));
    t.push(line);
  };
  for (const c of calls(mesh)) {
    for (const reporter of ['source', 'destination'] as const) {
      const proxy = reporter === 'source' ? `${c.src.name}.${c.src.namespace}` : `${c.dst.name}.${c.dst.namespace}`;
      for (const [code, n] of [['200', requests - Math.floor(requests / 50)], ['503', Math.floor(requests / 50)]] as const) {
        const l = labels({
          reporter, source_workload: c.src.name, source_workload_namespace: c.src.namespace, source_canonical_service: c.src.app, source_canonical_revision: c.src.version,
          destination_workload: c.dst.name, destination_workload_namespace: c.dst.namespace, destination_canonical_service: c.dst.app, destination_canonical_revision: c.dst.version,
          destination_service: `${c.service}.${c.serviceNs}.svc.cluster.local`, destination_service_name: c.service, destination_service_namespace: c.serviceNs,
          request_protocol: 'http', response_code: code, grpc_response_status: '', response_flags: code === '503' ? 'UF' : '-', connection_security_policy: 'mutual_tls',
        });
        add(proxy, `istio_requests_total{${l}} ${n}`);
        let cum = 0;
        LES.forEach((le, k) => {
          cum = le === '+Inf' ? n : Math.min(n, cum + Math.floor(n / (k < 8 ? 8 - k : 1)));
          add(proxy, `istio_request_duration_milliseconds_bucket{${l},le="${le}"} ${cum}`);
        });
      }
    }
  }
  return new Map([...texts].map(([k, v]) => [k, `# TYPE istio_requests_total counter\n${v.join('\n')}\n`]));
}

export interface WindowFeed {
  /** raw series in one scrape round */
  series: number;
  /** one more scrape round of every proxy, committed now */
  round(): void;
}

/**
 * Scrape rounds of every proxy into the window, `intervalMs` apart, the last one committed now
 * (the first is the baseline; each later one adds `requests` requests per call). `round()` adds
 * one more, as the scraper would every interval.
 */
export function feedWindow(store: MetricsWindowStore, mesh: ScaleMesh, opts: { scrapes?: number; intervalMs?: number; requests?: number } = {}): WindowFeed {
  const scrapes = Math.max(2, opts.scrapes ?? 2);
  const interval = opts.intervalMs ?? 5000;
  const start = Date.now();
  let k = 0;
  let series = 0;
  const scrape = (t: number) => {
    series = 0;
    for (const [proxy, text] of scrapeTexts(mesh, 1 + k * (opts.requests ?? 600))) {
      const samples = parsePromText(text, SCRAPED_FAMILIES);
      series += samples.length;
      store.addScrape(proxy, samples);
    }
    k++;
    store.commit(t);
  };
  for (let i = 0; i < scrapes - 1; i++) scrape(start - (scrapes - 1 - i) * interval);
  scrape(Date.now());
  return { get series() { return series; }, round: () => scrape(Date.now()) };
}
