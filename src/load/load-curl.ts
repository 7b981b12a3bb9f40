/**
 * `clew load -curl`: one request, the raw-looking response (status line, headers, body) on
 * stdout. node:http is used here (not undici) for the reason phrase and header spelling.
 */
import http from 'node:http';
import type { LoadOptions } from './load-options.js';

export interface CurlResult {
  status: number;
  /** Status line, headers and body, as fortio -curl prints them. */
  text: string;
}

export class LoadCurlError extends Error {
  readonly code = 'CLEW_LOAD_CURL';
  constructor(message: string) {
    super(message);
    this.name = 'LoadCurlError';
  }
}

export function curlOnce(options: LoadOptions): Promise<CurlResult> {
  const target = new URL(options.url);
  const proxy = options.proxy ? new URL(options.proxy) : undefined;
  const headers: Record<string, string> = { host: target.host, 'user-agent': 'clew-load/0.1.0' };
  for (const [k, v] of options.headers) headers[k.toLowerCase()] = v;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: proxy ? proxy.hostname : target.hostname,
      port: proxy ? Number(proxy.port || 80) : Number(target.port || 80),
      method: 'GET',
      path: proxy ? target.href : `${target.pathname}${target.search}`,
      headers,
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new LoadCurlError(`timeout after ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e instanceof LoadCurlError ? e : new LoadCurlError(`${options.url}: ${e.message}`));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(new LoadCurlError(`${options.url}: ${e.message}`));
      });
      res.on('end', () => {
        clearTimeout(timer);
        let head = `HTTP/${res.httpVersion} ${res.statusCode} ${res.statusMessage ?? ''}\r\n`;
        for (let i = 0; i < res.rawHeaders.length; i += 2) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
        resolve({ status: res.statusCode ?? 0, text: `${head}\r\n${Buffer.concat(chunks).toString('utf8')}` });
      });
    });
    req.end();
  });
}
