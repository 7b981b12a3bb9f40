/** Host names, namespaces and protocol names as Istio validates them. */
import { isIP } from 'node:net';
import { hostMatches } from '../registry/registry-hosts.js';

// one host-pattern matcher for validation and the control plane
export { hostMatches };

const DNS_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Label(s: string): boolean {
  return DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

/** `*`, `*.example.com`, `reviews`, `reviews.default.svc.cluster.local`. */
export function checkWildcardDomain(host: string): string | undefined {
  if (host === '*') return undefined;
  let h = host.startsWith('*.') ? host.slice(2) : host;
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (host.length > 255) return `host "${host}" is too long`;
  if (h === '' || !h.split('.').every((l) => DNS_LABEL.test(l))) {
    return h.includes('*')
      ? `invalid host "${host}": a wildcard is only allowed as the leftmost label ("*.example.com")`
      : `invalid host "${host}"`;
  }
  return undefined;
}

/** VirtualService hosts may also be IP addresses (for gateways). */
export function checkVirtualServiceHost(host: string): string | undefined {
  if (isIP(host)) return undefined;
  return checkWildcardDomain(host);
}

/** `ns/host` as in Gateway servers and Sidecar egress hosts; `requireNamespace` for Sidecar. */
export function checkNamespacedHost(value: string, requireNamespace: boolean): string | undefined {
  const slash = value.indexOf('/');
  if (slash < 0) {
    if (requireNamespace) return `host "${value}" must be of the form namespace/dnsName`;
    return checkWildcardDomain(value);
  }
  const ns = value.slice(0, slash);
  const host = value.slice(slash + 1);
  if (ns !== '*' && ns !== '.' && ns !== '~' && !isDns1123Label(ns)) return `invalid namespace "${ns}" in host "${value}"`;
  return checkWildcardDomain(host);
}

export function isWildcardHost(host: string): boolean {
  return host.startsWith('*');
}

/** Istio's protocol names (case-insensitive in YAML). */
export const PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'MYSQL', 'REDIS', 'TCP', 'TLS', 'UDP'];

export function checkProtocol(p: string): string | undefined {
  return PROTOCOLS.includes(p.toUpperCase()) ? undefined : `unknown protocol "${p}" (expected one of ${PROTOCOLS.join(', ')})`;
}

/** Port-name prefixes that select a protocol (`http`, `http-web`, `grpc-api`, ...). */
const PORT_NAME_PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'mongo', 'redis', 'mysql', 'tcp', 'tls', 'udp'];

export function followsPortNameConvention(name: string): boolean {
  const lower = name.toLowerCase();
  return PORT_NAME_PROTOCOLS.some((p) => lower === p || lower.startsWith(`${p}-`));
}

/** Short names resolve in the namespace of the config that names them (Istio's rule). */
export function resolveHost(host: string, namespace: string, domain = 'cluster.local'): string {
  if (host.includes('.') || host.startsWith('*') || isIP(host)) return host;
  return `${host}.${namespace}.svc.${domain}`;
}
