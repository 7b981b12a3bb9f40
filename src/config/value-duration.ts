/** Go duration syntax (`1s`, `100ms`, `1m30s`, `1.5h`), as Istio's YAML writes durations. */

const UNIT_NANOS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const TERM = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/** Nanoseconds, or undefined when the text is not a Go duration. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < s.length) {
    const start = TERM.lastIndex;
    const m = TERM.exec(s);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * UNIT_NANOS[m[2]];
  }
  return sign * total;
}

/** An error message for a duration field, or undefined when valid. */
export function checkDuration(text: string, minMs: number): string | undefined {
  const ns = parseGoDuration(text);
  if (ns === undefined) return `invalid duration "${text}" (expected Go syntax such as 1s, 100ms, 1m30s)`;
  if (ns < minMs * 1e6) return minMs > 0 ? `must be >= ${minMs}ms` : 'must not be negative';
  // Envoy and Istio work to millisecond precision.
  const rem = Math.abs(ns) % 1e6; // tolerate float noise from decimal terms like 1.001s
  if (rem > 0.5 && rem < 1e6 - 0.5) return 'only millisecond precision is supported';
  return undefined;
}
