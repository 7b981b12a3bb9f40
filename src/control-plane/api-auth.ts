/**
 * Who may call the control plane's HTTP API (issue 23 item 7). One reusable check, so every write
 * endpoint (apply, delete, and token minting later) applies the same rules:
 * - Host must name the listen address or a loopback name (DNS rebinding: a page on evil.example
 *   that resolves to 127.0.0.1 sends `Host: evil.example`), for reads and writes;
 * - a write with an Origin (or Sec-Fetch-Site) from another site is refused (CSRF);
 * - a write must carry a YAML or JSON content type (a browser sends text/plain, form or multipart
 *   cross-origin without a preflight);
 * - a write needs `authorization: Bearer <admin token>` (compared in constant time).
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export interface ApiAuthOptions {
  /** the address the API listens on (127.0.0.1, ::1, 0.0.0.0 ...) */
  listenHost: string;
  port: number;
  /** the admin token (`loadOrCreateAdminToken`) */
  adminToken: string;
}

export interface AuthRefusal {
  status: 400 | 401 | 403 | 415;
  error: string;
  code: string;
}

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.', '127.0.0.1', '::1']);
const WRITE_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'application/json']);

/** `host[:port]` of a Host header (IPv6 in brackets) → host without brackets, lower case. */
function hostOf(header: string): { host: string; port: string | undefined } | undefined {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim().toLowerCase());
  if (!m) return undefined;
  return { host: m[1].replace(/^\[|\]$/g, ''), port: m[2] };
}

function wildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/** The Host check: the listen address, a loopback name, or (listening on every address) any IP literal. */
export function checkHost(req: IncomingMessage, opts: ApiAuthOptions): AuthRefusal | undefined {
  const header = req.headers.host;
  const parsed = header ? hostOf(header) : undefined;
  const refuse: AuthRefusal = {
    status: 403, code: 'CLEW_API_HOST',
    error: `Host ${JSON.stringify(header ?? '')} is not this control plane's address (use ${opts.listenHost}:${opts.port} or localhost)`,
  };
  if (!parsed) return refuse;
  if (parsed.port !== undefined && Number(parsed.port) !== opts.port) return refuse;
  const { host } = parsed;
  if (host === opts.listenHost.toLowerCase() || LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host)) return undefined;
  if (wildcard(opts.listenHost) && isIP(host)) return undefined;
  return refuse;
}

/** A write from a browser page of another origin: Origin (or Sec-Fetch-Site) says so. */
function crossOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  if (origin === 'null') return true;
  try {
    const u = new URL(origin);
    return u.protocol !== 'http:' || u.host.toLowerCase() !== String(req.headers.host ?? '').toLowerCase();
  } catch {
    return true;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** Everything a write must pass; undefined = allowed. */
export function authorizeWrite(req: IncomingMessage, opts: ApiAuthOptions, { requireBody = true } = {}): AuthRefusal | undefined {
  const host = checkHost(req, opts);
  if (host) return host;
  if (crossOrigin(req)) {
    return { status: 403, code: 'CLEW_API_CROSS_ORIGIN', error: `cross-origin write refused (Origin ${JSON.stringify(req.headers.origin ?? '')})` };
  }
  if (requireBody) {
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!WRITE_TYPES.has(type)) {
      return { status: 415, code: 'CLEW_API_CONTENT_TYPE', error: `content type ${JSON.stringify(type)} refused: send application/yaml or application/json` };
    }
  }
  const token = bearer(req);
  // hashing first makes the comparison constant-time whatever the lengths
  if (token === undefined || !timingSafeEqual(digest(token), digest(opts.adminToken))) {
    return {
      status: 401, code: 'CLEW_API_UNAUTHORIZED',
      error: 'this write needs the control plane\'s admin token (authorization: Bearer ...; clew finds it in the local state dir, or use --token-file / $CLEW_CONTROL_PLANE_TOKEN)',
    };
  }
  return undefined;
}
