/** Option parsers shared by `clew run` and `clew demo`. */
import { LocalError } from './local-errors.js';

export function parsePort(v: string, what = 'port'): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `invalid ${what}: ${v}`);
  return n;
}

/** commander collector for a repeatable port flag */
export function collectPort(v: string, prev: number[] = []): number[] {
  return [...prev, parsePort(v)];
}

/** "k=v,k2=v2" -> record */
export function parseLabels(v: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v) return out;
  for (const part of v.split(',')) {
    const s = part.trim();
    if (!s) continue;
    const eq = s.indexOf('=');
    if (eq <= 0) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `invalid label "${s}" (want key=value)`);
    out[s.slice(0, eq)] = s.slice(eq + 1);
  }
  return out;
}

/** "host:port" check */
export function parseHostPort(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  if (i <= 0) throw new LocalError('CLEW_LOCAL_BAD_ARGUMENT', `invalid address "${v}" (want HOST:PORT)`);
  return { host: v.slice(0, i), port: parsePort(v.slice(i + 1)) };
}
