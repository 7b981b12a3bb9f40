/**
 * HTTP on the debug port (15014): the control plane's API. This module is only the HTTP around
 * the endpoints (api/api-routes.ts lists them, one module per family, each seeing the control
 * plane through api/control-plane-view.ts): the Host check on every request (api-auth.ts),
 * `authorizeWrite` before any non-GET endpoint runs, body reading, JSON answers and errors.
 */
import * as http from 'node:http';
import { authorizeWrite, checkHost, type ApiAuthOptions, type AuthRefusal } from './api-auth.js';
import type { ApiReply, ApiRoute } from './api/api-route.js';
import { apiRoutes, matchRoute } from './api/api-routes.js';
import type { ControlPlaneView, ControlPlaneWrites } from './api/control-plane-view.js';

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

export async function startDebugServer(
  view: ControlPlaneView, writes: ControlPlaneWrites, adminToken: string, host: string, port: number,
): Promise<DebugServer> {
  const auth: ApiAuthOptions = { listenHost: host, port, adminToken };
  const routes = apiRoutes(view, writes);
  const server = http.createServer((req, res) => {
    handle(routes, auth, req, res).catch((err) => {
      if (res.headersSent) return void res.destroy();
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
  if (method !== 'GET' && method !== 'HEAD') {
    const denied = authorizeWrite(req, auth, { requireBody: method !== 'DELETE' });
    if (denied) {
      req.resume();
      return send(res, refusal(denied));
    }
  }
  const found = matchRoute(routes, method, url.pathname);
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
    body: () => readBody(req),
  }));
}
