/**
 * %START_TIME(<fmt>)% formatting: a strftime subset compiled once into parts, always UTC (as
 * Envoy). Without a format: ISO 8601 with milliseconds (`2024-06-02T13:24:57.930Z`).
 */

type Part = string | ((d: Date, ms: number) => string);

const p2 = (n: number): string => (n < 10 ? '0' + n : String(n));
const p3 = (n: number): string => (n < 10 ? '00' + n : n < 100 ? '0' + n : String(n));
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** fractional seconds with `digits` digits (we only know milliseconds; the rest is zeros) */
function frac(digits: number): (d: Date, ms: number) => string {
  return (_d, ms) => (p3(((ms % 1000) + 1000) % 1000) + '000000').slice(0, digits);
}

const SPECIFIERS: Record<string, (d: Date, ms: number) => string> = {
  Y: (d) => String(d.getUTCFullYear()),
  y: (d) => p2(d.getUTCFullYear() % 100),
  m: (d) => p2(d.getUTCMonth() + 1),
  d: (d) => p2(d.getUTCDate()),
  e: (d) => String(d.getUTCDate()).padStart(2, ' '),
  H: (d) => p2(d.getUTCHours()),
  M: (d) => p2(d.getUTCMinutes()),
  S: (d) => p2(d.getUTCSeconds()),
  j: (d) => p3(Math.floor((d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 86400000) + 1),
  b: (d) => MONTHS[d.getUTCMonth()],
  a: (d) => DAYS[d.getUTCDay()],
  z: () => '+0000',
  Z: () => 'UTC',
  s: (_d, ms) => String(Math.floor(ms / 1000)),
  F: (d) => `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}`,
  T: (d) => `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`,
  f: frac(9),
  '%': () => '%',
};

export type TimeFormatter = (ms: number) => string;

export function compileTimeFormat(fmt: string | undefined): TimeFormatter {
  if (!fmt) {
    // Envoy caches the last formatted second; we cache the last millisecond
    let lastMs = NaN;
    let last = '';
    return (ms) => {
      if (ms !== lastMs) {
        lastMs = ms;
        last = new Date(ms).toISOString();
      }
      return last;
    };
  }
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if (c !== '%' || i === fmt.length - 1) {
      lit += c;
      continue;
    }
    const spec = fmt[i + 1];
    let fn: ((d: Date, ms: number) => string) | undefined;
    if (spec >= '1' && spec <= '9' && fmt[i + 2] === 'f') {
      fn = frac(Number(spec));
      i += 2;
    } else if (Object.hasOwn(SPECIFIERS, spec)) {
      fn = SPECIFIERS[spec];
      i += 1;
    } else {
      // unknown specifier: kept literally
      lit += c;
      continue;
    }
    if (lit) parts.push(lit);
    lit = '';
    parts.push(fn);
  }
  if (lit) parts.push(lit);
  return (ms) => {
    const d = new Date(ms);
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(d, ms);
    return out;
  };
}
