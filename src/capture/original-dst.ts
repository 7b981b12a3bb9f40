/**
 * The native addon (native/original-dst, N-API, built by node-gyp at `npm ci`), loaded on first
 * use: SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST (the destination of a connection before iptables
 * REDIRECT rewrote it) and IP_TRANSPARENT (TPROXY listeners). Node has no API for either. Without
 * the addon (another OS, no compiler at install time) REDIRECT capture cannot work; local mode
 * never needs it.
 */
import { createRequire } from 'node:module';
import type * as net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface OriginalDstAddon {
  /** null: no conntrack entry (the connection was not redirected) */
  originalDst(fd: number): { family: 4 | 6; address: string; port: number } | null;
  setTransparent(fd: number): void;
}

/** dist/src/capture -> <package root>/native/original-dst/build/Release */
export const ADDON_PATH = fileURLToPath(new URL('../../../native/original-dst/build/Release/original_dst.node', import.meta.url));

let loaded: { addon: OriginalDstAddon | undefined; error: string | undefined } | undefined;

export function loadOriginalDstAddon(): { addon: OriginalDstAddon | undefined; error: string | undefined } {
  if (loaded) return loaded;
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as OriginalDstAddon;
    loaded = { addon, error: undefined };
  } catch (err) {
    loaded = { addon: undefined, error: (err as Error).message };
  }
  return loaded;
}

/** The file descriptor of a TCP socket (net keeps it on the native handle on Unix). */
export function socketFd(socket: net.Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
