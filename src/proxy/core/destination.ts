/**
 * Where a downstream connection (or request) was headed. With iptables REDIRECT it comes from
 * SO_ORIGINAL_DST per connection; in local mode from the request itself (absolute-form URL,
 * CONNECT target, Host header). The dispatcher asks the connection-level resolver first and falls
 * back to the request, so an SO_ORIGINAL_DST resolver plugs in without touching it.
 */
import type * as net from 'node:net';

export interface Destination {
  host: string;
  port: number;
}

export interface DestinationResolver {
  /** the connection's original destination, or undefined to decide per request */
  resolveConnection(socket: net.Socket): Destination | undefined;
}

/** Local mode (no iptables): connections carry no destination. */
export const REQUEST_DESTINATION_RESOLVER: DestinationResolver = {
  resolveConnection: () => undefined,
};

/** Splits "host:port" / "[v6]:port" / "host" (default port given). */
export function parseAuthority(authority: string, defaultPort: number): Destination {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    const host = authority.slice(1, end);
    const rest = authority.slice(end + 1);
    return { host, port: rest.startsWith(':') ? Number(rest.slice(1)) || defaultPort : defaultPort };
  }
  const i = authority.lastIndexOf(':');
  if (i < 0) return { host: authority, port: defaultPort };
  const port = Number(authority.slice(i + 1));
  return { host: authority.slice(0, i), port: Number.isInteger(port) && port > 0 ? port : defaultPort };
}
