/**
 * `clew dashboard`'s HTTP server: the UI's static files (built by scripts/build-dashboard.mjs
 * into dist/dashboard: no CDN, nothing fetched at run time) and the read-only `/api/` the UI
 * reads (dashboard-api.ts). GET and HEAD only; the Host must name this server (DNS rebinding);
 * a strict Content-Security-Policy (scripts from this origin only).
 */
import * as http from 'node:http';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DashboardApi, type DashboardApiOptions } from './dashboard-api.js';

export interface DashboardServerOptions extends DashboardApiOptions {
  address: string;
  port: number;
  /** directory of index.html, app.js, app.css (default: dist/dashboard of this package) */
  assetsDir?: string;
}

export interface DashboardServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export class DashboardError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

/** dist/src/dashboard/dashboard-server.js -> dist/dashboard */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function loadAssets(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const { file } of Object.values(ASSETS)) {
    if (files.has(file)) continue;
    try {
      files.set(file, readFileSync(join(dir, file)));
    } catch (err) {
      throw new DashboardError(`dashboard asset ${join(dir, file)}: ${(err as Error).message} (npm run build makes it)`, 'CLEW_DASHBOARD_ASSETS');
    }
  }
  return files;
}

function hostAllowed(hostHeader: string | undefined, address: string, port: number): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader);
  if (!m) return false;
  const host = m[1].replace(/^\[|\]$/g, '').toLowerCase();
  if (m[2] && Number(m[2]) !== port) return false;
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  if (loopback) return true;
  return host === address.toLowerCase() || address === '0.0.0.0' || address === '::';
}

export async function startDashboardServer(opts: DashboardServerOptions): Promise<DashboardServer> {
  const files = loadAssets(opts.assetsDir ?? DEFAULT_ASSETS_DIR);
  const api = new DashboardApi(opts);
  let port = opts.port;
  const send = (res: http.ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  };
  const sendError = (res: http.ServerResponse, status: number, error: string, code: string): void =>
    send(res, status, 'application/json', JSON.stringify({ error, code }), false);
  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    if (!hostAllowed(req.headers.host, opts.address, port)) return sendError(res, 403, `host ${req.headers.host ?? '(none)'} is not this dashboard`, 'CLEW_DASHBOARD_HOST');
    if (method !== 'GET' && method !== 'HEAD') return sendError(res, 405, 'the dashboard is read-only', 'CLEW_DASHBOARD_METHOD');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      return res.end();
    }
    const asset = ASSETS[url.pathname];
    if (asset) return send(res, 200, asset.type, files.get(asset.file)!, method === 'HEAD');
    if (api.handles(url.pathname)) {
      api.get(url.pathname, url.searchParams).then(
        (r) => send(res, r.status, r.type, r.body, method === 'HEAD'),
        (err: Error) => sendError(res, 500, err.message, 'CLEW_DASHBOARD_INTERNAL'),
      );
      return;
    }
    sendError(res, 404, `no such page: ${url.pathname}`, 'CLEW_DASHBOARD_NOT_FOUND');
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new DashboardError(`${opts.address}:${opts.port} is in use (--port changes it)`, 'CLEW_DASHBOARD_PORT_IN_USE') : err));
    server.listen(opts.port, opts.address, () => resolve());
  });
  const addr = server.address();
  if (typeof addr === 'object' && addr) port = addr.port;
  const host = opts.address.includes(':') ? `[${opts.address}]` : opts.address === '0.0.0.0' ? '127.0.0.1' : opts.address;
  return {
    url: `http://${host}:${port}/`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
