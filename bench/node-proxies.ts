/**
 * The Node.js peers of the sidecar, each a plain reverse proxy to one upstream with keep-alive
 * connections on both sides:
 *   http-proxy          node-http-proxy (`http-proxy`) with a keep-alive http.Agent
 *   fastify-http-proxy  fastify + `@fastify/http-proxy` (undici underneath)
 *   node-minimal        node:http server + undici.Pool, the floor for a Node proxy
 *
 *   node dist/bench/node-proxies.js --kind http-proxy --port 9000 --upstream http://127.0.0.1:8080
 * Prints one JSON line `{"ready":true,...}` when listening.
 */
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`missing ${name}`);
  return process.argv[i + 1];
}

const kind = arg('--kind');
const port = Number(arg('--port'));
const host = process.argv.includes('--host') ? arg('--host') : '127.0.0.1';
const upstream = arg('--upstream');
const CONNECTIONS = 128;

function ready(): void {
  process.stdout.write(JSON.stringify({ ready: true, kind, host, port }) + '\n');
}

function listen(server: http.Server): void {
  server.keepAliveTimeout = 120_000;
  server.listen(port, host, ready);
}

function startHttpProxy(): void {
  // http-proxy ships no types; its API is createProxyServer(options).web(req, res)
  const httpProxy = createRequire(import.meta.url)('http-proxy') as {
    createProxyServer(o: Record<string, unknown>): { web(req: unknown, res: unknown): void; on(ev: string, f: (...a: any[]) => void): void };
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS, maxFreeSockets: CONNECTIONS });
  const proxy = httpProxy.createProxyServer({ target: upstream, agent, xfwd: true });
  proxy.on('error', (_err: Error, _req: unknown, res: http.ServerResponse) => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  listen(http.createServer((req, res) => proxy.web(req, res)));
}

async function startFastify(): Promise<void> {
  const { default: Fastify } = await import('fastify');
  const { default: proxy } = await import('@fastify/http-proxy');
  const app = Fastify({ logger: false, keepAliveTimeout: 120_000 });
  await app.register(proxy, { upstream, undici: { connections: CONNECTIONS, pipelining: 1 } });
  await app.listen({ port, host });
  ready();
}

function startMinimal(): void {
  const pool = new Pool(upstream, { connections: CONNECTIONS, pipelining: 1 });
  listen(http.createServer((req, res) => {
    const headers = { ...req.headers };
    delete headers.connection;
    delete headers['keep-alive'];
    pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : req })
      .then((up) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) {
          if (v !== undefined && k !== 'connection' && k !== 'keep-alive' && k !== 'transfer-encoding') out[k] = v;
        }
        res.writeHead(up.statusCode, out);
        pipeline(up.body, res, () => undefined);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
  }));
}

process.on('SIGTERM', () => process.exit(0));
if (kind === 'http-proxy') startHttpProxy();
else if (kind === 'fastify-http-proxy') void startFastify();
else if (kind === 'node-minimal') startMinimal();
else throw new Error(`unknown --kind ${kind}`);
