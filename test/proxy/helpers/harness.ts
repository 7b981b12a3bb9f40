/** Starts a StaticXds + an in-process proxy, and plain HTTP helpers for tests. */
import * as http from 'node:http';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { startProxy, type ProxyHandle, type ProxyOptions } from '../../../src/proxy/proxy.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, StaticXds } from './static-xds.js';

export interface MeshResources {
  clusters?: EnvoyResource[];
  endpoints?: EnvoyResource[];
  listeners?: EnvoyResource[];
  routes?: EnvoyResource[];
}

export interface Harness {
  xds: StaticXds;
  proxy: ProxyHandle;
  /** port of virtualOutbound */
  outbound: number;
  admin(path: string, method?: string): Promise<Res>;
  close(): Promise<void>;
}

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  trailers?: NodeJS.Dict<string>;
}

export function setAll(xds: StaticXds, r: MeshResources, push = true): void {
  if (r.clusters) xds.set(CLUSTER_TYPE, r.clusters, push);
  if (r.endpoints) xds.set(ENDPOINT_TYPE, r.endpoints, push);
  if (r.listeners) xds.set(LISTENER_TYPE, r.listeners, push);
  if (r.routes) xds.set(ROUTE_TYPE, r.routes, push);
}

export async function startHarness(r: MeshResources, opts: Partial<ProxyOptions> = {}, waitReady = true): Promise<Harness> {
  const xds = new StaticXds();
  setAll(xds, r, false);
  await xds.start();
  const proxy = await startProxy({
    xdsAddress: xds.address,
    id: 'test.default',
    address: '127.0.0.1',
    outboundPort: 0,
    inboundPort: 0,
    adminPort: 0,
    statsPort: 0,
    readyPort: 0,
    logLevel: 'off',
    xdsBackoffBaseMs: 50,
    xdsBackoffMaxMs: 200,
    ...opts,
  });
  if (waitReady) {
    // generous: a loaded 2-core machine can take seconds for a workload key and CSR; a proxy
    // that never gets ready is closed before the error, so the test file fails instead of hanging
    try {
      await withTimeout(proxy.ready, 20_000, 'proxy never became ready');
    } catch (err) {
      await proxy.close().catch(() => undefined);
      await xds.stop().catch(() => undefined);
      throw err;
    }
  }
  const h: Harness = {
    xds,
    proxy,
    get outbound() {
      return proxy.listenerPort('virtualOutbound') ?? 0;
    },
    admin: (path, method = 'GET') => httpRequest({ port: proxy.ports.admin, path, method }),
    close: async () => {
      await proxy.close();
      await xds.stop();
    },
  };
  return h;
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms);
    }),
  ]);
}

/** Polls until fn() returns true (bounded). */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timeout waiting for ${what}`);
}

export interface ReqOpts {
  port: number;
  path: string;
  method?: string;
  host?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: string;
  agent?: http.Agent | false;
}

export function httpRequest(o: ReqOpts): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: o.port, path: o.path, method: o.method ?? 'GET', headers: { ...(o.host ? { host: o.host } : {}), ...o.headers }, agent: o.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), trailers: res.trailers }));
        res.on('error', reject);
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('request timeout')));
    req.on('error', reject);
    req.end(o.body);
  });
}

/** Proxy-style absolute-form request: GET http://host:port/path sent to the outbound listener. */
export function viaProxy(port: number, url: string, o: Partial<ReqOpts> = {}): Promise<Res> {
  const u = new URL(url);
  return httpRequest({ ...o, port, path: url, host: u.host });
}
