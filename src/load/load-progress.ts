/** A one-line progress bar on stderr for runs longer than 2 s on a terminal. */

export interface ProgressBar {
  update(done: number, elapsedMs: number): void;
  finish(): void;
}

export function createProgressBar(totalMs: number, stream: NodeJS.WriteStream = process.stderr): ProgressBar {
  const width = 30;
  return {
    update(done, elapsedMs) {
      const frac = Math.min(1, elapsedMs / totalMs);
      const filled = Math.round(frac * width);
      stream.write(`\r[${'='.repeat(filled)}${' '.repeat(width - filled)}] ${Math.round(frac * 100)}% ${(elapsedMs / 1000).toFixed(1)}s ${done} calls`);
    },
    finish() {
      stream.write('\r\x1b[K');
    },
  };
}

/** Expected run time, when known up front (-t, or -n with a qps). */
export function expectedRunMs(o: { requests?: number; durationMs?: number; qps: number }): number | undefined {
  if (o.requests !== undefined) return o.qps > 0 ? (o.requests * 1000) / o.qps : undefined;
  return o.durationMs || undefined;
}
