/**
 * AuthorizationPolicy facts both the validator and the RBAC builder need: the `when` keys Clew
 * implements, the fields that only exist for HTTP, path templates and address blocks.
 */
import { isIP } from 'node:net';

/** a `when` key, parsed */
export type WhenKey =
  | { kind: 'request.headers'; header: string }
  | { kind: 'request.auth.claims'; claim: string[] }
  | { kind: 'request.auth.principal' | 'request.auth.audiences' | 'request.auth.presenter' }
  | { kind: 'source.ip' | 'remote.ip' | 'source.namespace' | 'source.principal' | 'source.serviceAccount' }
  | { kind: 'destination.ip' | 'destination.port' | 'connection.sni' };

const PLAIN_KEYS = new Set([
  'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter',
  'source.ip', 'remote.ip', 'source.namespace', 'source.principal', 'source.serviceAccount',
  'destination.ip', 'destination.port', 'connection.sni',
]);

/** The keys as the error message lists them. */
export const WHEN_KEYS_TEXT = 'request.headers[<name>], request.auth.principal|audiences|presenter, request.auth.claims[<name>]..., '
  + 'source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, destination.ip, destination.port, connection.sni';

/** A `when` key, or a message saying why it is refused. */
export function parseWhenKey(key: string): WhenKey | string {
  if (PLAIN_KEYS.has(key)) return { kind: key } as WhenKey;
  const h = /^request\.headers\[([^\]]+)\]$/.exec(key);
  if (h) return { kind: 'request.headers', header: h[1].toLowerCase() };
  if (key.startsWith('request.auth.claims[')) {
    const claim: string[] = [];
    let rest = key.slice('request.auth.claims'.length);
    while (rest.length > 0) {
      const m = /^\[([^\]]+)\]/.exec(rest);
      if (!m) return `bad claim key "${key}" (expected request.auth.claims[name] or request.auth.claims[a][b])`;
      claim.push(m[1]);
      rest = rest.slice(m[0].length);
    }
    return { kind: 'request.auth.claims', claim };
  }
  if (key.startsWith('experimental.envoy.filters.')) return `"${key}" is not implemented by Clew`;
  return `unknown key "${key}" (supported: ${WHEN_KEYS_TEXT})`;
}

/** keys that only mean something for HTTP (Istio drops or widens them on TCP) */
export function isHttpOnlyWhen(k: WhenKey): boolean {
  return k.kind.startsWith('request.');
}

export const HTTP_ONLY_SOURCE_FIELDS = ['requestPrincipals', 'notRequestPrincipals'] as const;
export const HTTP_ONLY_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

/** `10.0.0.1` or `10.0.0.0/16` (and IPv6) */
export function parseIpBlock(v: string): { address: string; prefixLen: number } | undefined {
  const slash = v.indexOf('/');
  const address = slash < 0 ? v : v.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefixLen: max };
  const len = v.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  return { address, prefixLen: Number(len) };
}

/** A path with `{*}` / `{**}` templates, or a message saying why it is refused. */
export function pathTemplateError(path: string): string | undefined {
  if (!path.includes('{') && !path.includes('}')) return undefined;
  if (!path.startsWith('/')) return `path template "${path}" must start with "/"`;
  const segs = path.split('/').slice(1);
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (!s.includes('{') && !s.includes('}')) continue;
    if (s !== '{*}' && s !== '{**}') return `path template "${path}": a segment must be exactly {*} or {**}`;
    if (s === '{**}' && i !== segs.length - 1) return `path template "${path}": {**} must be the last segment`;
  }
  return undefined;
}

/** RE2 for a template path: {*} one segment, {**} the rest (zero or more segments) */
export function pathTemplateRegex(path: string): string {
  return path.split('/').map((s) => (s === '{*}' ? '[^/]+' : s === '{**}' ? '.*' : s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&'))).join('/');
}

export function isPathTemplate(path: string): boolean {
  return path.includes('{*}') || path.includes('{**}');
}
