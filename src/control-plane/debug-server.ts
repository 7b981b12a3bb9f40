/**
 * HTTP on the debug port (15014): readiness, Prometheus metrics, istiod-style debug endpoints,
 * and the resource API behind `clew apply/delete/get`.
 */
import * as http from 'node:http';
import type { ControlPlane } from './control-plane.js';
import { ConfigRejectedError } from './config-store.js';
import { proxyStatusRows, findStream } from './proxy-status.js';
import { configDumpFor } from './config-dump.js';
import { formatIgnored, formatMessage, resourceKey } from '../config/index.js';
import { SHORT_TYPE_NAME } from '../xds/type-urls.js';
import { PROMETHEUS_CONTENT_TYPE } from '../stats/stats-prometheus.js';
import { authorizeWrite, checkHost, type ApiAuthOptions, type AuthRefusal } from './api-auth.js';

export interface DebugServer {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;

function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startDebugServer(cp: ControlPlane, host: string, port: number): Promise<DebugServer> {
  const auth: ApiAuthOptions = { listenHost: host, port, adminToken: cp.adminToken };
  const server = http.createServer((req, res) => {
    handle(cp, auth, req, res).catch((err) => send(res, 500, { error: (err as Error).message, code: (err as { code?: string }).code }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  if (typeof addr === 'object' && addr) auth.port = addr.port;
  return {
    port: auth.port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function refuse(res: http.ServerResponse, r: AuthRefusal): void {
  if (r.status === 401) res.setHeader('www-authenticate', 'Bearer realm="clew-control-plane"');
  send(res, r.status, { error: r.error, code: r.code });
}

async function handle(cp: ControlPlane, auth: ApiAuthOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const p = url.pathname;
  const q = url.searchParams;
  // every request names this server (DNS rebinding); writes need more (authorizeWrite)
  const badHost = checkHost(req, auth);
  if (badHost) return refuse(res, badHost);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const denied = authorizeWrite(req, auth, { requireBody: req.method !== 'DELETE' });
    if (denied) {
      req.resume();
      return refuse(res, denied);
    }
  }
  if (req.method === 'GET' && p === '/ready') {
    return cp.isReady() ? send(res, 200, 'ready\n', 'text/plain') : send(res, 503, 'not ready\n', 'text/plain');
  }
  if (req.method === 'GET' && p === '/metrics') return send(res, 200, cp.metrics.render(), PROMETHEUS_CONTENT_TYPE);
  if (req.method === 'GET' && p === '/debug/syncz') {
    return send(res, 200, cp.ads.streams().map((s) => ({
      proxy: s.stream.node?.id ?? `stream-${s.stream.id}`,
      peer: s.stream.peer,
      delta: s.stream.delta,
      connected_at: new Date(s.stream.connectedAt).toISOString(),
      types: s.types.map((t) => ({ type: SHORT_TYPE_NAME[t.typeUrl] ?? t.typeUrl, ...t })),
    })));
  }
  if (req.method === 'GET' && p === '/debug/proxy_status') return send(res, 200, proxyStatusRows(cp.ads.streams()));
  if (req.method === 'GET' && p === '/debug/config_dump') {
    const id = q.get('proxyID');
    if (!id) return send(res, 400, { error: 'proxyID is required' });
    const stream = findStream(cp.ads.streams(), id);
    if (!stream) return send(res, 404, { error: `proxy ${id} is not connected` });
    return send(res, 200, configDumpFor(cp, stream));
  }
  if (req.method === 'GET' && p === '/debug/mesh') return send(res, 200, cp.meshConfig());
  // the root clients verify the TLS port (and workload certificates) with; public by nature
  if (req.method === 'GET' && p === '/debug/root-cert') return send(res, 200, cp.security.ca.rootCertPem(), 'application/x-pem-file');
  if (req.method === 'GET' && p === '/debug/registryz') {
    return send(res, 200, cp.registry.services().map((svc) => ({
      ...svc,
      cluster: cp.registry.clusterOf(svc.hostname),
      endpoints: Object.fromEntries(svc.ports.map((port) => [
        String(port.port),
        cp.registry.instances(svc.hostname, port.port).map((i) => i.endpoint),
      ])),
    })));
  }
  if (req.method === 'GET' && p === '/debug/configz') {
    return send(res, 200, {
      revision: cp.store.revision,
      resources: cp.allConfig().map((r) => ({ key: resourceKey(r), ...r })),
      rejected: cp.store.rejectedFiles().map((f) => ({ file: f.file, messages: f.messages.map(formatMessage) })),
    });
  }
  if (p === '/apis/v1/resources' && req.method === 'GET') {
    const items = cp.store.list(q.get('kind') ?? undefined, q.get('namespace') ?? undefined, q.get('name') ?? undefined);
    return send(res, 200, { items });
  }
  if ((p === '/apis/v1/apply' || p === '/apis/v1/delete') && req.method === 'POST') {
    const file = q.get('file') ?? 'stdin';
    const text = await readBody(req);
    try {
      const applied = p.endsWith('apply') ? await cp.store.applyText(text, file) : { results: await cp.store.deleteText(text, file), ignored: [] };
      const { results } = applied;
      const telemetry = p.endsWith('apply') && results.some((r) => r.kind === 'Telemetry');
      const warnings = (telemetry ? cp.meshWarnings(new Set(results.map((r) => r.key))) : []).map((m) => ({ ...m, text: formatMessage(m) }));
      const ignored = applied.ignored.map((i) => ({ ...i, text: formatIgnored(i) }));
      return send(res, 200, { results, ...(warnings.length ? { warnings } : {}), ...(ignored.length ? { ignored } : {}) });
    } catch (err) {
      if (err instanceof ConfigRejectedError) {
        cp.metrics.configRejected('api');
        return send(res, 422, {
          error: err.message,
          code: err.code,
          messages: err.messages.map((m) => ({ ...m, text: formatMessage(m) })),
        });
      }
      throw err;
    }
  }
  const del = /^\/apis\/v1\/resources\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(p);
  if (del && req.method === 'DELETE') {
    const [, kindLc, namespace, name] = del.map(decodeURIComponent);
    const found = cp.store.list(kindLc, namespace, name)[0];
    const kind = found?.kind ?? kindLc;
    return send(res, found ? 200 : 404, {
      results: await cp.store.deleteKeys([{ key: `${kind}/${namespace}/${name}`, kind, namespace, name }]),
    });
  }
  send(res, 404, {
    error: `no such endpoint: ${req.method} ${p}`,
    endpoints: ['/ready', '/metrics', '/debug/syncz', '/debug/proxy_status', '/debug/config_dump?proxyID=',
      '/debug/registryz', '/debug/configz', '/debug/mesh', '/debug/root-cert', 'GET /apis/v1/resources', 'POST /apis/v1/apply', 'POST /apis/v1/delete'],
  });
}
