/**
 * V8 young-generation sizing for `clew proxy` (process flags set at run time).
 *
 * Start-up (module loading, the proto descriptor, the first xDS config) allocates mostly objects
 * that live as long as the process. With V8's default `--semi-space-growth-factor` (2) their
 * survival makes the young generation grow at every scavenge to its maximum (2 × 16 MiB of semi
 * spaces), pages that stay resident while the proxy idles. During start-up the factor is held at
 * 1, so those objects are promoted from a small young generation. Once the proxy is ready, the
 * default is restored as soon as traffic makes scavenges frequent (releaseUnderLoad), and from
 * then on the young generation grows exactly as before; a proxy that stays idle keeps it small.
 * The maximum (`--max-semi-space-size`) can only be set on node's command line: sidecars are
 * started with PROXY_NODE_FLAGS (bin/clew.js's shebang, local mode, the bench). A smaller maximum
 * cost 30-60 % more CPU per request; V8's default (16 MiB semi-spaces) left scavenges at ~13 % of
 * a busy proxy's CPU, and 32 MiB halves their frequency (about 5 % less CPU per request, for up to
 * 32 MiB more RSS under load; idle RSS is unchanged).
 *
 * An explicit `--semi-space-growth-factor` on node's command line or in NODE_OPTIONS wins: then
 * nothing is changed.
 *
 * Giving memory back (returnMemoryWhenQuiet): a young generation grown by a load stays committed
 * after it (up to 2 × 32 MiB of semi spaces, +27 MB RSS measured after 30 s at 1000 rps): V8 shrinks
 * it only in a memory-reducing GC, and an idle proxy triggers none until the memory reducer's
 * watchdog, about 100 s after the last full GC (bench/soak-memory.ts saw RSS back 76 s after
 * the load ended). Once the young generation has grown and no scavenge has run for a while (the
 * traffic stopped or became light), one memory-reducing full GC shrinks it and releases its pages.
 */
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { memoryReducingGc } from '../proxy/admin/admin-memory.js';

/** node flags for a sidecar process (see above) */
export const PROXY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];

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

/** scavenges per second that mean "under load" (an idle proxy makes none) */
export const LOAD_SCAVENGES_PER_SECOND = 5;

/**
 * Restores the default growth once `perSecond` scavenges happen within one second: a proxy
 * carrying traffic gets V8's usual young generation, an idle one keeps the small one. Returns a
 * function that stops watching (and releases).
 */
export function releaseUnderLoad(perSecond = LOAD_SCAVENGES_PER_SECOND): () => void {
  if (!held) return () => {};
  const recent: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind !== perfConstants.NODE_PERFORMANCE_GC_MINOR) continue;
      const now = e.startTime;
      recent.push(now);
      while (recent.length > 0 && recent[0] < now - 1000) recent.shift();
      if (recent.length >= perSecond) {
        stop();
        return;
      }
    }
  });
  const stop = (): void => {
    obs.disconnect();
    releaseYoungGeneration();
  };
  obs.observe({ entryTypes: ['gc'] });
  return stop;
}

/** how long without a scavenge counts as quiet */
export const QUIET_MS = 10_000;
/** the young generation's committed size above which a quiet proxy gives memory back (V8 starts at 1 MiB) */
export const YOUNG_GENERATION_RELEASE_BYTES = 4 << 20;

/** the young generation's committed bytes */
export function youngGenerationBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.space_size;
  return n;
}

export interface QuietRelease {
  /** memory-reducing GCs run so far */
  releases(): number;
  stop(): void;
}

/**
 * Watches scavenges; every `checkMs`, when none ran for `quietMs` and the young generation is
 * above `thresholdBytes`, runs one memory-reducing GC (about 20-40 ms on an idle sidecar; at most
 * once per quiet spell: the young generation is small afterwards until traffic grows it again).
 */
export function returnMemoryWhenQuiet(opts: { quietMs?: number; checkMs?: number; thresholdBytes?: number } = {}): QuietRelease {
  const quietMs = opts.quietMs ?? QUIET_MS;
  const threshold = opts.thresholdBytes ?? YOUNG_GENERATION_RELEASE_BYTES;
  let lastScavenge = performance.now();
  let count = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) lastScavenge = performance.now();
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const timer = setInterval(() => {
    if (performance.now() - lastScavenge < quietMs || youngGenerationBytes() <= threshold) return;
    memoryReducingGc();
    count++;
  }, opts.checkMs ?? Math.max(100, quietMs / 2));
  timer.unref();
  return {
    releases: () => count,
    stop() {
      clearInterval(timer);
      obs.disconnect();
    },
  };
}
