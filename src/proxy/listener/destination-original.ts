/**
 * Destination resolvers under transparent capture (the proxy picks one by INTERCEPTION_MODE).
 * Captured connections come from capture listeners (src/capture/capture-listener.ts: the native
 * addon accepts them and reads SO_ORIGINAL_DST as it does), so a resolver only looks it up:
 * - REDIRECT: the original destination conntrack recorded;
 * - TPROXY: the same (outbound traffic is still REDIRECTed in TPROXY mode), else the accepted
 *   socket's own local address, which is the original destination of a TPROXYed connection.
 * A connection made to the listener itself has no original destination (routed per request).
 */
import type * as net from 'node:net';
import { capturedDestination } from '../../capture/capture-listener.js';
import type { Destination, DestinationResolver } from '../core/destination.js';

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** REDIRECT: SO_ORIGINAL_DST (a client using the sidecar as its HTTP proxy has none). */
export function redirectResolver(): DestinationResolver {
  return {
    resolveConnection(socket: net.Socket): Destination | undefined {
      const d = capturedDestination(socket);
      if (!d) return undefined;
      if (d.port === socket.localPort && d.host === unmapped(socket.localAddress ?? '')) return undefined;
      return { host: d.host, port: d.port };
    },
  };
}

/** TPROXY: SO_ORIGINAL_DST, else the local address the kernel gave the accepted socket. */
export function tproxyResolver(): DestinationResolver {
  const redirect = redirectResolver();
  return {
    resolveConnection(socket: net.Socket): Destination | undefined {
      const d = redirect.resolveConnection(socket);
      if (d) return d;
      const address = socket.localAddress;
      const port = socket.localPort;
      if (!address || !port) return undefined;
      return { host: unmapped(address), port };
    },
  };
}

/** The resolver for an interception mode; capture without the native addon is an error. */
export function resolverForMode(mode: 'NONE' | 'REDIRECT' | 'TPROXY', addonError: string | undefined): DestinationResolver | undefined {
  if (mode === 'NONE') return undefined;
  if (addonError !== undefined) {
    throw new Error(`INTERCEPTION_MODE=${mode} needs the original-destination addon (native/original-dst, built by npm ci with node-gyp): ${addonError}`);
  }
  return mode === 'TPROXY' ? tproxyResolver() : redirectResolver();
}
