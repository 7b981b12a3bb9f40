/**
 * Test helpers: an absolute-form HTTP forward proxy standing in for the sidecar. It maps
 * `service:port` authorities to handlers (a real app on 127.0.0.1 or a stub), and records every
 * call so tests can count tries and inspect forwarded headers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../../src/load/load-proxy-env.js';

export interface SeenCall {
  service: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type Route = { port: number } | http.RequestListener;

export interface TestMesh {
  proxy: ProxyConfig;
  calls: SeenCall[];
  /** Number of calls that reached `service`. */
  count(service: string): number;
  route(service: string, to: Route): void;
  close(): Promise<void>;
}

export async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function startTestMesh(): Promise<TestMesh> {
  const routes = new Map<string, Route>();
  const calls: SeenCall[] = [];
  const server = http.createServer((req, res) => {
    const target = new URL(req.url ?? '/');
    const service = target.hostname;
    calls.push({ service, url: req.url ?? '', headers: req.headers });
    const to = routes.get(service);
    if (!to) {
      res.writeHead(502, { 'content-length': 0 });
      res.end();
      return;
    }
    if (typeof to === 'function') {
      to(req, res);
      return;
    }
    const up = http.request({
      host: '127.0.0.1', port: to.port, method: req.method, path: `${target.pathname}${target.search}`,
      headers: req.headers,
    }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(503, { 'content-length': 0 });
      res.end();
    });
    req.pipe(up);
  });
  const port = await listen(server);
  return {
    proxy: { host: '127.0.0.1', port, noProxy: [] },
    calls,
    count: (service) => calls.filter((c) => c.service === service).length,
    route: (service, to) => routes.set(service, to),
    close: () => close(server),
  };
}

/** Plain GET on 127.0.0.1 returning status, headers and body. */
export function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('test request timeout')));
    req.end(body);
  });
}

export const countOf = (text: string, needle: string): number => text.split(needle).length - 1;
