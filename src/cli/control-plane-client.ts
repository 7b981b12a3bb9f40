/** HTTP client for the control plane's debug/resource API (default http://127.0.0.1:15014). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { publishedTokenDir, tokenFileName } from '../control-plane/admin-token.js';
import { CliError } from './errors.js';

export const DEFAULT_CONTROL_PLANE = 'http://127.0.0.1:15014';

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export interface CallOptions {
  /** `--token-file`: the admin token for writes */
  tokenFile?: string;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

/**
 * The admin token for a write: `--token-file`, then $CLEW_CONTROL_PLANE_TOKEN, then the file the
 * control plane at this URL published for its user (`<state dir>/control-plane/<host>_<port>.token`;
 * a loopback URL also finds a control plane listening on another loopback name or on every address).
 */
export function findAdminToken(base: string, opts: CallOptions = {}, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (opts.tokenFile) {
    try {
      return readFileSync(opts.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new CliError(`--token-file ${opts.tokenFile}: ${(err as Error).message}`, 2);
    }
  }
  if (env.CLEW_CONTROL_PLANE_TOKEN) return env.CLEW_CONTROL_PLANE_TOKEN.trim();
  const url = new URL(base);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const hosts = LOOPBACK.includes(host) || /^127\./.test(host) ? [host, ...LOOPBACK, '0.0.0.0', '::'] : [host];
  const dir = publishedTokenDir(env);
  for (const h of hosts) {
    try {
      return readFileSync(join(dir, tokenFileName(h, port)), 'utf8').trim();
    } catch {
      // not published under this name
    }
  }
  return undefined;
}

export async function callControlPlane<T = any>(
  base: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: string,
  opts: CallOptions = {},
): Promise<ApiResponse<T>> {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/yaml';
  if (method !== 'GET') {
    const token = findAdminToken(base, opts);
    if (token) headers.authorization = `Bearer ${token}`;
  }
  try {
    const res = await request(url, {
      method,
      body,
      headers,
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    if ((res.headers['content-type'] ?? '').toString().includes('json')) parsed = JSON.parse(text);
    return { status: res.statusCode, body: parsed as T };
  } catch (err) {
    throw new CliError(`cannot reach the control plane at ${base}: ${(err as Error).message}`);
  }
}
