/**
 * Parameters of the fast-check fuzz targets. `npm test` runs each target briefly with a fixed
 * seed (the CI run); a longer run is the same test with more time:
 *   CLEW_FUZZ_SECONDS=600 node --test dist/test/fuzz/<target>.test.js
 * CLEW_FUZZ_SEED picks another seed, CLEW_FUZZ_RUNS a fixed number of inputs. A failure prints
 * the seed and the shrunk input; add it to the target's corpus (test/fixtures/fuzz/) once fixed.
 */
import type { Parameters } from 'fast-check';

export function fuzzParams<T>(defaultRuns: number): Parameters<T> & { numRuns: number } {
  const seconds = Number(process.env.CLEW_FUZZ_SECONDS ?? 0);
  const seed = process.env.CLEW_FUZZ_SEED !== undefined ? Number(process.env.CLEW_FUZZ_SEED) : 0x5eed;
  if (seconds > 0) {
    return { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false, endOnFailure: true };
  }
  return { seed, numRuns: Number(process.env.CLEW_FUZZ_RUNS ?? defaultRuns), endOnFailure: true };
}

/**
 * Counts inputs and the slowest one, for the long run's report. Times are CPU time of the process
 * (as test/fuzz/fuzz-runner.ts): on a shared machine a fine input can wait seconds for a core,
 * while a hang burns CPU.
 */
export class FuzzStats {
  inputs = 0;
  slowestMs = 0;
  /** CPU ms of the last input */
  lastMs = 0;
  private readonly started = Date.now();
  private readonly cpu0 = process.cpuUsage();
  time<R>(fn: () => R): R {
    const c0 = process.cpuUsage();
    try {
      return fn();
    } finally {
      const c = process.cpuUsage(c0);
      const ms = (c.user + c.system) / 1000;
      this.lastMs = ms;
      this.inputs++;
      if (ms > this.slowestMs) this.slowestMs = ms;
    }
  }
  report(name: string): void {
    if (process.env.CLEW_FUZZ_SECONDS) {
      const rss = Math.round(process.memoryUsage().rss / 1048576);
      const c = process.cpuUsage(this.cpu0);
      process.stderr.write(`fuzz ${name}: ${this.inputs} inputs in ${Math.round((Date.now() - this.started) / 1000)} s (${Math.round((c.user + c.system) / 1e6)} s of CPU), slowest ${this.slowestMs.toFixed(1)} ms of CPU, rss ${rss} MB\n`);
    }
  }
}
