/**
 * Per-connection request activity, so a drain can close idle HTTP/1.1 keep-alive connections
 * without cutting a request in flight. Keyed by the ConnectionContext the listener attaches to
 * each accepted socket: the listener starts the record, the HTTP connection manager counts its
 * requests, and connections whose lifetime is not request-shaped (TCP proxy, upgrades, HTTP/2
 * sessions, which close themselves after GOAWAY) are marked opaque and never closed as idle.
 */
import type { ConnectionContext } from '../core/connection-context.js';

interface Activity {
  streams: number;
  idleSince: number;
  opaque: boolean;
  drainingSince: number | undefined;
}

const byConn = new WeakMap<ConnectionContext, Activity>();

export function trackConnection(ctx: ConnectionContext, now = Date.now()): void {
  byConn.set(ctx, { streams: 0, idleSince: now, opaque: false, drainingSince: ctx.draining ? now : undefined });
}

export function streamStarted(ctx: ConnectionContext): void {
  const a = byConn.get(ctx);
  if (a) a.streams++;
}

export function streamEnded(ctx: ConnectionContext): void {
  const a = byConn.get(ctx);
  if (a && a.streams > 0 && --a.streams === 0) a.idleSince = Date.now();
}

/** The connection is not a sequence of HTTP/1.1 requests: never close it as idle. */
export function markOpaque(ctx: ConnectionContext): void {
  const a = byConn.get(ctx);
  if (a) a.opaque = true;
}

/** Discourage the connection: HTTP/1.1 responses from now on carry `connection: close`. */
export function markDraining(ctx: ConnectionContext, now = Date.now()): void {
  ctx.draining = true;
  const a = byConn.get(ctx);
  if (a && a.drainingSince === undefined) a.drainingSince = now;
}

/**
 * How long an HTTP/1.1 connection has had no request under way (since it was accepted or its
 * last request ended), or undefined when it is busy, opaque (TCP proxy, upgraded, HTTP/2) or
 * unknown: what the global connection limit may close to make room.
 */
export function idleMs(ctx: ConnectionContext | undefined, now: number): number | undefined {
  const a = ctx ? byConn.get(ctx) : undefined;
  if (!a || a.opaque || a.streams > 0) return undefined;
  return now - a.idleSince;
}

/**
 * How long a draining HTTP/1.1 connection has been idle since the drain reached it (a client
 * gets the whole idle period to use it once more and be told to close), or undefined when it is
 * busy, opaque, not draining or unknown.
 */
export function drainIdleMs(ctx: ConnectionContext | undefined, now = Date.now()): number | undefined {
  const a = ctx ? byConn.get(ctx) : undefined;
  if (!a || a.opaque || a.streams > 0 || a.drainingSince === undefined) return undefined;
  return now - Math.max(a.idleSince, a.drainingSince);
}
