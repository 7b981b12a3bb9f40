/**
 * The native addon (native/original-dst, N-API, built by node-gyp at `npm ci`), loaded on first
 * use: capture listeners that own their listening socket and accept() from it on Node's event
 * loop, reading each connection's original destination (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST:
 * where it was headed before iptables REDIRECT rewrote it) and, for TPROXY, setting
 * IP_TRANSPARENT before the bind. Node has no API for either, nor for a socket's descriptor:
 * owning accept() is how JavaScript gets the descriptors, wrapped with the public
 * `new net.Socket({ fd })` (capture-listener.ts). Without the addon (another OS, no compiler at
 * install time) transparent capture cannot work; local mode never needs it.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface CaptureListenOptions {
  /** an IP address ("0.0.0.0", "::" takes IPv4 too, or one address) */
  host: string;
  port: number;
  backlog?: number;
  /** IP_TRANSPARENT / IPV6_TRANSPARENT (TPROXY; needs CAP_NET_ADMIN) */
  transparent?: boolean;
  /** SO_REUSEPORT: processes of one user listening on the same port share its connections */
  reusePort?: boolean;
}

/** a listening socket the addon owns */
export interface AddonListener {
  handle: unknown;
  port: number;
  family: 4 | 6;
}

export interface OriginalDstAddon {
  /**
   * Binds and listens (throws an Error with `code`, e.g. EADDRINUSE, EPERM); `onAccept` gets the
   * connections accepted in one wake of the event loop, flat: [fd, originalAddress | null,
   * originalPort, ...] (null: conntrack has no entry); `onError` an accept() failure that is not
   * one connection's (EMFILE, ENFILE, ENOBUFS, ENOMEM: the listener pauses briefly and goes on).
   */
  listen(options: CaptureListenOptions, onAccept: (batch: Array<number | string | null>) => void, onError: (code: string, message: string) => void): AddonListener;
  /**
   * stops accepting and closes the listening socket (idempotent); with `drain`, the connections
   * already queued on it are accepted first and returned as listen's onAccept gets them
   */
  close(handle: unknown, drain: boolean): Array<number | string | null>;
}

/** dist/src/capture -> <package root>/native/original-dst/build/Release */
export const ADDON_PATH = fileURLToPath(new URL('../../../native/original-dst/build/Release/original_dst.node', import.meta.url));

let loaded: { addon: OriginalDstAddon | undefined; error: string | undefined } | undefined;

export function loadOriginalDstAddon(): { addon: OriginalDstAddon | undefined; error: string | undefined } {
  if (loaded) return loaded;
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as OriginalDstAddon;
    if (typeof addon.listen !== 'function' || typeof addon.close !== 'function') throw new Error(`${ADDON_PATH} is an older build without listen/close: run npm ci`);
    loaded = { addon, error: undefined };
  } catch (err) {
    loaded = { addon: undefined, error: (err as Error).message };
  }
  return loaded;
}
