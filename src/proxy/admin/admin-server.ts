/**
 * The admin interface (127.0.0.1:15000 by default): /help, /server_info, /ready, /config_dump, /certs,
 * /clusters, /listeners, /memory, /stats, /stats/prometheus, /logging, POST /drain_listeners,
 * POST /quitquitquit. The same handler serves the stats (15090) and readiness (15021) ports.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMemory, memoryReducingGc } from './admin-memory.js';

export interface AdminBackend {
  serverInfo(): unknown;
  isReady(): boolean;
  state(): string;
  configDump(): unknown;
  /** Envoy's /certs: the certificates of every TLS context */
  certs(): unknown;
  clustersText(): string;
  clustersJson(): unknown;
  listenersText(): string;
  listenersJson(): unknown;
  statsText(): string;
  /** the Prometheus exposition in chunks (written with the event loop turning in between) */
  statsPrometheus(): Iterator<string>;
  setLogLevel(level: string): boolean;
  /** Envoy's query flags: inboundonly, graceful, skip_exit */
  drainListeners(opts: { inboundOnly: boolean; graceful: boolean; skipExit: boolean }): void;
  quit(): void;
}

const HELP: Array<[string, string]> = [
  ['/', 'admin home page'],
  ['/help', 'print out list of admin commands'],
  ['/server_info', 'print server version/status information'],
  ['/ready', 'print server state, return 200 if LIVE, otherwise return 503'],
  ['/config_dump', 'dump current Envoy configs'],
  ['/certs', 'print certs on machine'],
  ['/clusters', 'upstream cluster status'],
  ['/listeners', 'print listener info'],
  ['/memory', 'print current allocation/heap usage (POST ?gc: after a full garbage collection)'],
  ['/stats', 'print server stats'],
  ['/stats/prometheus', 'print server stats in prometheus format'],
  ['/logging', 'query/change logging levels'],
  ['/drain_listeners', 'drain listeners (POST; ?inboundonly, ?graceful, ?skip_exit)'],
  ['/quitquitquit', 'exit the server (POST)'],
];

type Kind = 'admin' | 'stats' | 'ready';

function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=UTF-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * A large body (a scrape with many series) written chunk by chunk: the next chunk is built on a
 * later turn of the event loop, after the socket took the last one, so a scrape never holds
 * the proxy's traffic for long and never buffers the whole exposition.
 */
function sendChunks(res: http.ServerResponse, chunks: Iterator<string>, type: string): void {
  res.writeHead(200, { 'content-type': type });
  let closed = false;
  res.once('close', () => (closed = true));
  const next = (): void => {
    if (closed) return;
    let r: IteratorResult<string>;
    try {
      r = chunks.next();
    } catch (err) {
      res.destroy(err as Error);
      return;
    }
    if (r.done) {
      res.end();
      return;
    }
    if (res.write(r.value)) setImmediate(next);
    else res.once('drain', next);
  };
  next();
}

export function createAdminHandler(b: AdminBackend, kind: Kind): http.RequestListener {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (kind === 'ready') {
      if (path === '/healthz/ready') return b.isReady() ? send(res, 200, '') : send(res, 503, '');
      return send(res, 404, '');
    }
    if (path === '/stats/prometheus' || (kind === 'stats' && path === '/metrics')) return sendChunks(res, b.statsPrometheus(), 'text/plain; version=0.0.4');
    if (kind === 'stats') return send(res, 404, '');
    const json = url.searchParams.get('format') === 'json';
    switch (path) {
      case '/':
      case '/help':
        return send(res, 200, `admin commands are:\n${HELP.map(([p, d]) => `  ${p}: ${d}`).join('\n')}\n`);
      case '/server_info':
        return send(res, 200, JSON.stringify(b.serverInfo(), null, 2), 'application/json');
      case '/ready':
        return send(res, b.isReady() ? 200 : 503, `${b.state()}\n`);
      case '/config_dump':
        return send(res, 200, JSON.stringify(b.configDump(), null, 2), 'application/json');
      case '/certs':
        return send(res, 200, JSON.stringify(b.certs(), null, 2), 'application/json');
      case '/clusters':
        return json ? send(res, 200, JSON.stringify(b.clustersJson(), null, 2), 'application/json') : send(res, 200, b.clustersText());
      case '/listeners':
        return json ? send(res, 200, JSON.stringify(b.listenersJson(), null, 2), 'application/json') : send(res, 200, b.listenersText());
      case '/memory':
        if (url.searchParams.has('gc')) {
          if (req.method !== 'POST') return send(res, 405, 'This endpoint requires POST\n');
          memoryReducingGc();
        }
        return send(res, 200, JSON.stringify(adminMemory(), null, 2), 'application/json');
      case '/stats':
        return json ? send(res, 200, JSON.stringify({ stats: b.statsText().trim().split('\n').filter(Boolean).map((l) => { const i = l.lastIndexOf(': '); return { name: l.slice(0, i), value: Number(l.slice(i + 2)) }; }) }), 'application/json') : send(res, 200, b.statsText());
      case '/logging': {
        const level = url.searchParams.get('level');
        if (level && !b.setLogLevel(level)) return send(res, 400, `unknown level ${level}\n`);
        return send(res, 200, `active loggers:\n  all: ${level ?? 'info'}\n`);
      }
      case '/drain_listeners':
        if (req.method !== 'POST') return send(res, 405, 'This endpoint requires POST\n');
        b.drainListeners({
          inboundOnly: url.searchParams.has('inboundonly'),
          graceful: url.searchParams.has('graceful'),
          skipExit: url.searchParams.has('skip_exit'),
        });
        return send(res, 200, 'OK\n');
      case '/quitquitquit':
        if (req.method !== 'POST') return send(res, 405, 'This endpoint requires POST\n');
        send(res, 200, 'OK\n');
        setImmediate(() => b.quit());
        return;
      default:
        return send(res, 404, `invalid path. admin commands are:\n${HELP.map(([p]) => `  ${p}`).join('\n')}\n`);
    }
  };
}

/** `hold`: requests that arrive before it settles wait for it (a hot-restarted proxy not yet ready). */
export async function listenHttp(handler: http.RequestListener, host: string, port: number, hold?: Promise<void>): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(hold ? (req, res) => void hold.then(() => handler(req, res)) : handler);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
