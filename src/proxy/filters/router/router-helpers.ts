/** Router pieces without state: redirects, rewrites, hashing, header preparation. */
import { murmur3 } from '../../upstream/hash.js';
import type { HeaderMap } from '../../core/header-map.js';
import type { HashPolicy, RedirectAction, Route, WeightedTarget } from '../../router/route-config.js';
import type { OutHeaders } from '../../core/pool.js';

export function pickWeighted(w: { targets: WeightedTarget[]; total: number }): WeightedTarget {
  let r = Math.random() * w.total;
  for (const t of w.targets) {
    r -= t.weight;
    if (r < 0) return t;
  }
  return w.targets[w.targets.length - 1];
}

export function rewritePath(route: Route, path: string): string {
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  const query = q < 0 ? '' : path.slice(q);
  if (route.prefixRewrite !== undefined) {
    const prefix = route.match.pathValue;
    const rest = p.slice(prefix.length);
    p = route.prefixRewrite + rest;
    if (p === '') p = '/';
  } else if (route.regexRewrite) {
    p = route.regexRewrite.re.replaceAll(p, route.regexRewrite.sub);
  }
  return p + query;
}

export function redirectLocation(d: RedirectAction, route: Route, authority: string, path: string, scheme: string): string {
  const q = path.indexOf('?');
  let p = q < 0 ? path : path.slice(0, q);
  let query = q < 0 ? '' : path.slice(q);
  if (d.path !== undefined) {
    const qi = d.path.indexOf('?');
    if (qi >= 0) {
      query = d.path.slice(qi);
      p = d.path.slice(0, qi);
    } else p = d.path;
  } else if (d.prefixRewrite !== undefined) {
    p = d.prefixRewrite + p.slice(route.match.pathValue.length);
  }
  if (d.stripQuery) query = '';
  const newScheme = d.scheme ?? scheme;
  let host = authority;
  let port = '';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (m) {
    host = m[1];
    port = m[2] ?? '';
  }
  if (d.host !== undefined) {
    host = d.host;
    if (d.port === undefined) port = '';
  }
  if (d.port !== undefined) port = String(d.port);
  if (d.scheme !== undefined && d.port === undefined && d.host === undefined) port = '';
  if ((newScheme === 'http' && port === '80') || (newScheme === 'https' && port === '443')) port = '';
  return `${newScheme}://${host}${port ? `:${port}` : ''}${p}${query}`;
}

export function requestHash(policies: HashPolicy[], headers: HeaderMap, path: string, sourceIp: string): number | undefined {
  let hash: number | undefined;
  for (const p of policies) {
    let v: string | undefined;
    switch (p.kind) {
      case 'header': {
        const raw = headers[p.name];
        v = Array.isArray(raw) ? raw.join(',') : raw;
        break;
      }
      case 'cookie': {
        const c = headers.cookie;
        const s = Array.isArray(c) ? c.join('; ') : c;
        if (s) for (const part of s.split(';')) {
          const eq = part.indexOf('=');
          if (eq > 0 && part.slice(0, eq).trim() === p.name) {
            v = part.slice(eq + 1).trim();
            break;
          }
        }
        break;
      }
      case 'source_ip':
        v = sourceIp;
        break;
      case 'query_parameter': {
        const q = path.indexOf('?');
        if (q >= 0) v = new URLSearchParams(path.slice(q + 1)).get(p.name) ?? undefined;
        break;
      }
    }
    if (v === undefined) continue;
    const h = murmur3(v);
    hash = hash === undefined ? h : (((hash << 1) | (hash >>> 31)) ^ h) >>> 0;
    if (p.terminal) break;
  }
  return hash;
}

/**
 * The downstream request headers become the upstream ones in place (Envoy's router forwards the
 * request's own header map, connection-specific fields removed): connection, keep-alive,
 * proxy-connection, transfer-encoding (the client codec frames the body itself), upgrade,
 * expect, http2-settings, and te unless it is `trailers`; host is the (possibly rewritten)
 * authority. Pseudo headers of an HTTP/2 request stay in the map: the upstream codecs skip names
 * starting with ':'. Fields are cleared to undefined (skipped by the codecs), not deleted, and
 * by name, so the map keeps its shape and no field is read through a keyed load.
 */
export function prepareUpstreamHeaders(h: HeaderMap, authority: string): OutHeaders {
  if (h.connection !== undefined) h.connection = undefined;
  if (h['keep-alive'] !== undefined) h['keep-alive'] = undefined;
  if (h['proxy-connection'] !== undefined) h['proxy-connection'] = undefined;
  if (h['transfer-encoding'] !== undefined) h['transfer-encoding'] = undefined;
  if (h.upgrade !== undefined) h.upgrade = undefined;
  if (h.expect !== undefined) h.expect = undefined;
  if (h['http2-settings'] !== undefined) h['http2-settings'] = undefined;
  if (h.te !== undefined && h.te !== 'trailers') h.te = undefined;
  h.host = authority;
  return h as OutHeaders;
}
