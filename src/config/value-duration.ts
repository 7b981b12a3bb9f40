/** Duration field checks; the Go duration parser itself is shared from src/xds/codec.ts. */

import { parseGoDuration } from '../xds/codec.js';
import { MAX_TIMER_MS } from '../xds/field-values.js';

export { parseGoDuration };

/** An error message for a duration field, or undefined when valid. */
export function checkDuration(text: string, minMs: number): string | undefined {
  const ns = parseGoDuration(text);
  if (ns === undefined) return `invalid duration "${text}" (expected Go syntax such as 1s, 100ms, 1m30s)`;
  if (ns < minMs * 1e6) return minMs > 0 ? `must be >= ${minMs}ms` : 'must not be negative';
  // the proxy's timers hold at most 2^31-1 ms; a longer one would fire at once
  if (ns > MAX_TIMER_MS * 1e6) return 'must be at most 596h31m23.647s (the longest timer the proxy keeps)';
  // Envoy and Istio work to millisecond precision.
  const rem = Math.abs(ns) % 1e6; // tolerate float noise from decimal terms like 1.001s
  if (rem > 0.5 && rem < 1e6 - 0.5) return 'only millisecond precision is supported';
  return undefined;
}
