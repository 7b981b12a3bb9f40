/** HTTP client for the control plane's debug/resource API (default http://127.0.0.1:15014). */
import { request } from 'undici';
import { CliError } from './errors.js';

export const DEFAULT_CONTROL_PLANE = 'http://127.0.0.1:15014';

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export async function callControlPlane<T = any>(
  base: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: string,
): Promise<ApiResponse<T>> {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  try {
    const res = await request(url, {
      method,
      body,
      headers: body !== undefined ? { 'content-type': 'application/yaml' } : undefined,
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
