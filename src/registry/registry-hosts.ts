/**
 * Host name resolution Istio applies to hosts in VirtualServices, DestinationRules and
 * destinations: short names are relative to the config's namespace.
 */
export const DOMAIN_SUFFIX = 'svc.cluster.local';

export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.${DOMAIN_SUFFIX}`;
}

/**
 * `reviews` in ns default → `reviews.default.svc.cluster.local`; `reviews.default` and
 * `reviews.default.svc` → the FQDN; wildcards, FQDNs and hosts of known services (ServiceEntry
 * hosts such as `httpbin.org`) are returned unchanged. `isKnownHost` tells which hosts exist
 * verbatim; `isNamespace` tells whether `a.b` names namespace `b` (else `a.b` is an external name).
 */
export function resolveHostname(
  host: string,
  namespace: string,
  isKnownHost: (h: string) => boolean = () => false,
  isNamespace?: (ns: string) => boolean,
): string {
  if (host === '*' || host.startsWith('*') || isKnownHost(host)) return host;
  if (host.endsWith(`.${DOMAIN_SUFFIX}`)) return host;
  const parts = host.split('.');
  if (parts.length === 1) return serviceFqdn(host, namespace || 'default');
  if (parts.length === 2) {
    const fqdn = `${host}.${DOMAIN_SUFFIX}`;
    if (isKnownHost(fqdn) || !isNamespace || isNamespace(parts[1])) return fqdn;
    return host;
  }
  if (parts.length === 3 && parts[2] === 'svc') return `${host}.cluster.local`;
  return host;
}

/** Does `pattern` (exact, `*`, or `*.suffix`) cover `host`? */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*' || pattern === host) return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  if (pattern.startsWith('*')) return host.endsWith(pattern.slice(1));
  return false;
}

/** Do two host patterns overlap (either covers the other)? Used for gateway server hosts. */
export function hostsIntersect(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}
