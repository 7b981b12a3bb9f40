/**
 * V8 young-generation sizing for `clew proxy` (process flags set at run time).
 *
 * Start-up (module loading, the proto descriptor, the first xDS config) allocates mostly objects
 * that live as long as the process. With V8's default `--semi-space-growth-factor` (2) their
 * survival makes the young generation grow at every scavenge to its maximum (2 × 16 MiB of semi
 * spaces), pages that stay resident while the proxy idles. During start-up the factor is held at
 * 1, so those objects are promoted from a small young generation; once the proxy is ready the
 * default is restored, and under load the young generation grows exactly as before (a smaller
 * maximum, `--max-semi-space-size`, cost 30-60 % more CPU per request in the benchmark, so the
 * maximum is left alone; it can only be set on node's command line anyway).
 *
 * An explicit `--semi-space-growth-factor` on node's command line or in NODE_OPTIONS wins: then
 * nothing is changed.
 */
import v8 from 'node:v8';

/** V8's default semi-space growth factor */
export const DEFAULT_SEMI_SPACE_GROWTH_FACTOR = 2;

let held = false;

function userSetsGrowthFactor(): boolean {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
  return /semi[-_]space[-_]growth[-_]factor/.test(flags);
}

/** Holds the young generation at its initial size while the proxy starts (call first). */
export function holdYoungGeneration(): void {
  if (held || userSetsGrowthFactor()) return;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  held = true;
}

/** Restores V8's default growth once start-up is over (idempotent). */
export function releaseYoungGeneration(): void {
  if (!held) return;
  v8.setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_SEMI_SPACE_GROWTH_FACTOR}`);
  held = false;
}

export function youngGenerationHeld(): boolean {
  return held;
}
