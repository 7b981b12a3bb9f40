/** Option parsers and option groups shared by commands; bad values are usage errors (exit 2). */
import type { Command } from 'commander';
import { UsageError } from './errors.js';

/** commander collector for a repeatable string flag */
export function collect(value: string, previous: string[] = []): string[] {
  return previous.concat([value]);
}

export function parsePort(v: string, flag = 'port'): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag}: invalid port ${JSON.stringify(v)}`);
  return n;
}

/** commander collector for a repeatable port flag */
export function collectPort(v: string, previous: number[] = []): number[] {
  return [...previous, parsePort(v)];
}

/** "k=v,k2=v2" -> record; a part without `=` is an error, not silently dropped */
export function parseLabels(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v) return out;
  for (const part of v.split(',')) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid label "${s}" (want key=value)`);
    out[s.slice(0, eq).trim()] = s.slice(eq + 1).trim();
  }
  return out;
}

/** "host:port" */
export function parseHostPort(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  if (i <= 0) throw new UsageError(`invalid address "${v}" (want HOST:PORT)`);
  return { host: v.slice(0, i), port: parsePort(v.slice(i + 1)) };
}

/** The sidecar's well-known port flags, shared by `clew proxy` and `clew run`. */
export function addSidecarPortOptions(cmd: Command): Command {
  return cmd
    .option('--outbound-port <port>', 'port of the virtualOutbound listener', '15001')
    .option('--inbound-port <port>', 'port of the virtualInbound listener', '15006')
    .option('--admin-port <port>', 'admin port', '15000')
    .option('--stats-port <port>', 'Prometheus stats port', '15090')
    .option('--ready-port <port>', 'readiness port (/healthz/ready)', '15021');
}
