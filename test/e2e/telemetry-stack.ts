/**
 * Pieces the telemetry e2e tests add to mesh-stack.ts: the control plane with a --mesh-config,
 * a real Prometheus server (Debian's `prometheus`) scraping sidecars, promtool, HTTP through a
 * sidecar's outbound port, and span receivers (Zipkin v2 JSON, OTLP/HTTP JSON).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { after } from 'node:test';
import { freePorts } from '../../src/local/local-ports.js';
import { httpReady } from '../../src/local/local-readiness.js';
import { startControlPlane, tempDir, waitFor, type ControlPlaneProc } from './mesh-stack.js';

const children = new Set<ChildProcess>();
after(async () => {
  await Promise.all(
    [...children].filter((p) => p.exitCode === null && p.signalCode === null).map((p) => {
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGKILL');
      return gone;
    }),
  );
});

/** `clew control-plane --mesh-config <file>`; resolves once /ready answers. */
export async function startControlPlaneWithMesh(configDir: string, meshYaml: string): Promise<ControlPlaneProc> {
  const meshFile = path.join(tempDir('clew-e2e-mesh-'), 'mesh.yaml');
  fs.writeFileSync(meshFile, meshYaml);
  return startControlPlane(configDir, undefined, meshFile);
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A proxy-style (absolute-form) request to a sidecar's outbound port, as an app with HTTP_PROXY sends it. */
export function viaSidecar(outbound: { host: string; port: number }, url: string, headers: http.OutgoingHttpHeaders = {}, agent?: http.Agent): Promise<HttpResult> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: outbound.host, port: outbound.port, path: url, headers: { host: u.host, ...headers }, agent: agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function getText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

export interface PromServer {
  api: string;
  query(q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** every target's health as Prometheus sees it */
  targets(): Promise<Array<{ scrapeUrl: string; health: string; lastError: string }>>;
}

/** A real Prometheus scraping `targets` (host:port) at /stats/prometheus every second. */
export async function startPrometheus(targets: string[]): Promise<PromServer> {
  const dir = tempDir('clew-e2e-prom-');
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      '  - job_name: envoy-stats',
      '    metrics_path: /stats/prometheus',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const [port] = await freePorts('127.0.0.1', 1);
  const proc = spawn(
    'prometheus',
    [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  proc.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  let spawnError: Error | undefined;
  proc.once('error', (e) => (spawnError = e));
  const api = `http://127.0.0.1:${port}/api/v1`;
  await waitFor(async () => {
    if (spawnError) throw new Error(`prometheus is required (apt-get install prometheus): ${spawnError.message}`);
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${out}`);
    return httpReady(`http://127.0.0.1:${port}/-/ready`, 500);
  }, 20_000, () => `prometheus: ${out}`);
  return {
    api,
    query: async (q) => {
      const body = JSON.parse(await getText(`${api}/query?query=${encodeURIComponent(q)}`));
      if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
      return body.data.result;
    },
    targets: async () => JSON.parse(await getText(`${api}/targets`)).data.activeTargets,
  };
}

/** promtool's findings, one per line; a parse error throws. */
export function promtool(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 10000 });
  if (r.error) throw new Error(`promtool is required (apt-get install prometheus): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`.trim();
  // a parse error ("error while linting: ..."); metric names may contain "error" (ssl_connection_error)
  if (/^error|error while linting/im.test(out)) throw new Error(`promtool: ${out}`);
  return out.split('\n').filter(Boolean);
}

/** Names fixed by Istio/Envoy that promtool's style lints dislike; anything else must be clean. */
export const ALLOWED_LINTS = [
  /^istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"$/,
  /^envoy_\w+ counter metrics should have "_total" suffix$/,
  // Envoy's gauges named *_total (cluster.<name>.membership_total)
  /^envoy_\w+ non-counter metrics should not have "_total" suffix$/,
];

export interface SpanReceiver {
  port: number;
  /** every span received, in arrival order (Zipkin objects, or OTLP spans with their service name) */
  spans: any[];
  paths: string[];
  close(): Promise<void>;
}

/** A collector on `host` that accepts Zipkin v2 JSON arrays or OTLP/HTTP JSON and keeps the spans. */
export async function startSpanReceiver(host = '127.0.0.1'): Promise<SpanReceiver> {
  const r: SpanReceiver = { port: 0, spans: [], paths: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.paths.push(req.url ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (Array.isArray(body)) r.spans.push(...body);
      else {
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a: any) => a.key === 'service.name')?.value?.stringValue;
          for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) r.spans.push({ ...s, serviceName: service });
        }
      }
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, host, () => res()));
  r.port = (server.address() as net.AddressInfo).port;
  r.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((res) => server.close(() => res()));
  };
  return r;
}
