/**
 * HTTP on the debug port (15014): the control plane's API. This module is only the HTTP around
 * the endpoints (api/api-routes.ts lists them, one module per family, each seeing the control
 * plane through api/control-plane-view.ts): the Host check on every request (api-auth.ts),
 * `authorizeWrite` before any non-GET endpoint runs, body reading, JSON answers and errors.
 */
import * as http from 'node:http';
import { authorizeWrite, checkHost, type ApiAuthOptions, type AuthRefusal } from './api-auth.js';
import { BodyTooLargeError, type ApiReply, type ApiRoute } from './api/api-route.js';
import { apiRoutes, matchRoute } from './api/api-routes.js';
import type { ControlPlaneTraces, ControlPlaneView, ControlPlaneWrites } from './api/control-plane-view.js';

export interface DebugServer {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;

function send(res: http.ServerResponse, reply: ApiReply): void {
  const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body, null, 2) + '\n';
  res.writeHead(reply.status, {
    ...reply.headers,
    'content-type': reply.type ?? 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume(); // drained, not buffered: the answer can still be written
      return reject(new BodyTooLargeError(limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startDebugServer(
  view: ControlPlaneView, writes: ControlPlaneWrites, adminToken: string, host: string, port: number, traces?: ControlPlaneTraces,
): Promise<DebugServer> {
  const auth: ApiAuthOptions = { listenHost: host, port, adminToken };
  const routes = apiRoutes(view, writes, traces);
  const server = http.createServer((req, res) => {
    handle(routes, auth, req, res).catch((err) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof BodyTooLargeError) return send(res, { status: 413, body: { error: err.message, code: err.code }, headers: { connection: 'close' } });
      send(res, { status: 500, body: { error: (err as Error).message, code: (err as { code?: string }).code } });
    });
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

function refusal(r: AuthRefusal): ApiReply {
  return {
    status: r.status,
    body: { error: r.error, code: r.code },
    headers: r.status === 401 ? { 'www-authenticate': 'Bearer realm="clew-control-plane"' } : undefined,
  };
}

async function handle(routes: readonly ApiRoute[], auth: ApiAuthOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  // every request names this server (DNS rebinding); writes need more (authorizeWrite)
  const badHost = checkHost(req, auth);
  if (badHost) return send(res, refusal(badHost));
  const found = matchRoute(routes, method, url.pathname);
  if (method !== 'GET' && method !== 'HEAD' && !found?.route.ingest) {
    const denied = authorizeWrite(req, auth, { requireBody: method !== 'DELETE' });
    if (denied) {
      req.resume();
      return send(res, refusal(denied));
    }
  }
  if (!found) {
    return send(res, {
      status: 404,
      body: { error: `no such endpoint: ${method} ${url.pathname}`, endpoints: routes.map((r) => r.doc) },
    });
  }
  send(res, await found.route.handle({
    method,
    path: url.pathname,
    query: url.searchParams,
    params: found.params,
    body: async () => (await readBody(req, MAX_BODY)).toString('utf8'),
    rawBody: (limit) => readBody(req, Math.min(limit, MAX_BODY)),
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    },
  }));
}
