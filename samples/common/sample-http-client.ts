/**
 * The one outbound HTTP client of the sample apps: node:http, a whole-request timeout, and an
 * HTTP forward proxy (absolute-form request line, Host header of the destination) when
 * HTTP_PROXY is set. Without a proxy it connects directly.
 */
import http from 'node:http';
import { bypassesProxy, proxyFromEnv, type ProxyConfig } from '../../src/load/load-proxy-env.js';

export interface SampleResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export type SampleHttpErrorCode = 'SAMPLE_HTTP_TIMEOUT' | 'SAMPLE_HTTP_CONNECT' | 'SAMPLE_HTTP_IO';

export class SampleHttpError extends Error {
  constructor(message: string, readonly code: SampleHttpErrorCode) {
    super(message);
    this.name = 'SampleHttpError';
  }
}

export interface SampleRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Explicit proxy; `null` forces a direct connection; undefined reads the environment. */
  proxy?: ProxyConfig | null;
}

/**
 * One keep-alive agent per destination authority: with a proxy every destination shares the
 * proxy's host:port, and a sidecar may pick its route per connection, so connections to the
 * proxy are never shared between destinations.
 */
const agents = new Map<string, http.Agent>();
function agentFor(key: string): http.Agent {
  let agent = agents.get(key);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes idle pooled connections (used on shutdown and by tests). */
export function closeSampleAgents(): void {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

let envProxy: ProxyConfig | undefined | null = null;
function defaultProxy(): ProxyConfig | undefined {
  if (envProxy === null) envProxy = proxyFromEnv();
  return envProxy;
}

export function sampleRequest(url: string, options: SampleRequestOptions): Promise<SampleResponse> {
  const target = new URL(url);
  if (target.protocol !== 'http:') {
    return Promise.reject(new SampleHttpError(`only http:// is supported: ${url}`, 'SAMPLE_HTTP_IO'));
  }
  const port = target.port ? Number(target.port) : 80;
  const proxy = options.proxy === undefined ? defaultProxy() : options.proxy ?? undefined;
  const viaProxy = proxy !== undefined && !bypassesProxy(target.hostname, port, proxy.noProxy);
  const authority = target.host;
  const headers: Record<string, string> = { ...options.headers, host: authority };
  if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));

  return new Promise<SampleResponse>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, res?: SampleResponse): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(res!);
    };
    const req = http.request({
      host: viaProxy ? proxy!.host : target.hostname,
      port: viaProxy ? proxy!.port : port,
      method: options.method ?? 'GET',
      // Absolute form tells the proxy (the sidecar) where the request is going.
      path: viaProxy ? `http://${authority}${target.pathname}${target.search}` : `${target.pathname}${target.search}`,
      headers,
      agent: agentFor(viaProxy ? `proxy:${proxy!.host}:${proxy!.port}|${authority}` : authority),
    });
    const timer = setTimeout(() => {
      const err = new SampleHttpError(`timeout after ${options.timeoutMs} ms: ${url}`, 'SAMPLE_HTTP_TIMEOUT');
      finish(err);
      req.destroy(err);
    }, options.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => {
      const code = e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN'
        ? 'SAMPLE_HTTP_CONNECT' : 'SAMPLE_HTTP_IO';
      finish(e instanceof SampleHttpError ? e : new SampleHttpError(`${url}: ${e.message}`, code));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => finish(new SampleHttpError(`${url}: ${e.message}`, 'SAMPLE_HTTP_IO')));
      res.on('aborted', () => finish(new SampleHttpError(`${url}: response aborted`, 'SAMPLE_HTTP_IO')));
      res.on('end', () => finish(undefined, {
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    req.end(options.body);
  });
}

/** GET that parses a JSON body; non-JSON bodies yield `undefined` json. */
export async function sampleGetJson(
  url: string,
  options: SampleRequestOptions,
): Promise<{ status: number; json: unknown }> {
  const res = await sampleRequest(url, options);
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}
