/**
 * The default global downstream connection limit: what the process's descriptor limit allows
 * once a reserve is kept for what else the proxy opens (upstream connections, the admin and
 * xDS sockets, log files, DNS). Without a limit, a flood of idle connections uses up every
 * descriptor, and then each new client is accepted and reset by libuv and no upstream
 * connection can be opened: the proxy is useless while still running. Envoy leaves the limit to
 * its overload manager; Clew sets one by default (`--max-downstream-connections` overrides).
 */
import { readFileSync } from 'node:fs';

/** descriptors kept back at least, and as a share of the limit */
const MIN_RESERVE = 64;
const RESERVE_SHARE = 0.2;
/** beyond this many idle connections memory, not descriptors, is what runs out */
const CEILING = 65_536;
/** when the descriptor limit cannot be read (not Linux) */
const FALLBACK = 8_192;

/** The soft RLIMIT_NOFILE of this process (Linux: /proc/self/limits), or undefined. */
export function openFilesLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m || m[1] === 'unlimited') return undefined;
  const n = Number(m[1]);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Default --max-downstream-connections for a descriptor limit (soft RLIMIT_NOFILE). */
export function defaultMaxDownstreamConnections(nofile = openFilesLimit()): number {
  if (nofile === undefined) return FALLBACK;
  const reserve = Math.max(MIN_RESERVE, Math.floor(nofile * RESERVE_SHARE));
  return Math.max(1, Math.min(CEILING, nofile - reserve));
}
