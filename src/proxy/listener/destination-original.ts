/**
 * Destination resolvers under transparent capture (the proxy picks one by INTERCEPTION_MODE):
 * - REDIRECT: SO_ORIGINAL_DST through the native addon (src/capture/original-dst.ts);
 * - TPROXY: the accepted socket's own local address is the original destination.
 * A connection made to the listener itself has no original destination (routed per request).
 */
import type * as net from 'node:net';
import { socketFd, type OriginalDstAddon } from '../../capture/original-dst.js';
import type { Destination, DestinationResolver } from '../core/destination.js';

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** REDIRECT: SO_ORIGINAL_DST (a client using the sidecar as its HTTP proxy has none). */
export function redirectResolver(addon: OriginalDstAddon, log?: (msg: string) => void): DestinationResolver {
  let warned = false;
  return {
    resolveConnection(socket: net.Socket): Destination | undefined {
      const fd = socketFd(socket);
      if (fd === undefined) return undefined;
      let d: ReturnType<OriginalDstAddon['originalDst']>;
      try {
        d = addon.originalDst(fd);
      } catch (err) {
        if (!warned) log?.(`SO_ORIGINAL_DST failed: ${(err as Error).message}`);
        warned = true;
        return undefined;
      }
      if (!d) return undefined;
      if (d.port === socket.localPort && d.address === unmapped(socket.localAddress ?? '')) return undefined;
      return { host: d.address, port: d.port };
    },
  };
}

/** TPROXY: the local address the kernel gave the accepted socket is where it was headed. */
export function tproxyResolver(): DestinationResolver {
  return {
    resolveConnection(socket: net.Socket): Destination | undefined {
      const address = socket.localAddress;
      const port = socket.localPort;
      if (!address || !port) return undefined;
      return { host: unmapped(address), port };
    },
  };
}

/** The resolver for an interception mode; REDIRECT without the native addon is an error. */
export function resolverForMode(mode: 'NONE' | 'REDIRECT' | 'TPROXY', addon: OriginalDstAddon | undefined, addonError: string | undefined, log?: (msg: string) => void): DestinationResolver | undefined {
  if (mode === 'TPROXY') return tproxyResolver();
  if (mode !== 'REDIRECT') return undefined;
  if (!addon) {
    throw new Error(`INTERCEPTION_MODE=REDIRECT needs the original-destination addon (native/original-dst, built by npm ci with node-gyp): ${addonError ?? 'not built'}`);
  }
  return redirectResolver(addon, log);
}

/** IP_TRANSPARENT on a listening server's socket (TPROXY). */
export function makeTransparent(addon: OriginalDstAddon | undefined, server: net.Server): void {
  const fd = (server as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  if (!addon) throw new Error('IP_TRANSPARENT needs the original-destination addon (native/original-dst)');
  if (typeof fd !== 'number' || fd < 0) throw new Error('the listening socket has no file descriptor');
  addon.setTransparent(fd);
}
