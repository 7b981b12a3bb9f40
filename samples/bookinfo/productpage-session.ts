/**
 * productpage's signed session cookie: `session=<base64url JSON>.<base64url HMAC-SHA256>`.
 * Only the user name is stored; a cookie whose signature does not match is ignored.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SESSION_COOKIE = 'session';

function sign(payload: string, secret: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

export function encodeSession(user: string, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ user }), 'utf8').toString('base64url');
  return `${payload}.${sign(payload, secret)}`;
}

export function decodeSession(value: string, secret: string): string | undefined {
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const payload = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1), 'base64url');
  const expected = Buffer.from(sign(payload, secret), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { user?: unknown };
    return typeof parsed.user === 'string' && parsed.user.length > 0 ? parsed.user : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a Cookie header into name -> value (first occurrence wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name && !out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

export function sessionUser(cookieHeader: string | undefined, secret: string): string | undefined {
  const value = parseCookies(cookieHeader).get(SESSION_COOKIE);
  return value ? decodeSession(value, secret) : undefined;
}
