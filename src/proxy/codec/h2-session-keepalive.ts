/**
 * Keepalive for downstream HTTP/2 sessions (Envoy's http2_protocol_options.connection_keepalive):
 * once a session has been idle for `intervalMs` it is sent a PING, and closed if no ACK comes
 * within `timeoutMs`. Besides clients that vanished without a FIN, this is what closes a session
 * nghttp2 has terminated on a protocol error: node:http2 sends the GOAWAY, then stops reading the
 * socket and never closes it or tells JavaScript (not even when the client closes its side), so
 * without a probe every such connection stays open for good, and counts against the downstream
 * connection limit. A terminated session sends no PING, so the probe finds it.
 */
import type * as http2 from 'node:http2';

export interface H2Keepalive {
  /** idle time before a PING (0: no keepalive) */
  intervalMs: number;
  /** how long the ACK may take before the session is closed */
  timeoutMs: number;
}

/** Clew's default when the HCM sets none (Envoy has no default; node:http2 needs one, see above) */
export const DEFAULT_H2_KEEPALIVE: H2Keepalive = { intervalMs: 10_000, timeoutMs: 5_000 };

export function keepH2SessionAlive(session: http2.Http2Session, k: H2Keepalive): void {
  if (k.intervalMs <= 0) return;
  let probe: NodeJS.Timeout | undefined;
  session.setTimeout(k.intervalMs);
  session.on('timeout', () => {
    if (session.destroyed || probe !== undefined) return;
    probe = setTimeout(() => session.destroy(), k.timeoutMs);
    probe.unref();
    let sent = false;
    try {
      sent = session.ping((err) => {
        clearTimeout(probe);
        probe = undefined;
        // idle again from now: node re-arms the session timer only on some activity
        if (!err && !session.destroyed) session.setTimeout(k.intervalMs);
      });
    } catch {
      sent = false;
    }
    if (!sent) {
      clearTimeout(probe);
      session.destroy();
    }
  });
  session.once('close', () => clearTimeout(probe));
}
