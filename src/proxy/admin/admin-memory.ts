/**
 * The admin's /memory (Envoy's endpoint, with V8's figures in place of tcmalloc's): what the
 * process holds, for a soak or an operator to tell live JavaScript objects (heap used) from
 * pages V8 keeps committed (heap size, the young generation) and from what lives outside the
 * heap (Buffers, native memory). Values in bytes, as Envoy's numbers-as-strings. `POST
 * /memory?gc` runs one memory-reducing full GC first (live objects only: a leak, not garbage).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export interface AdminMemory {
  /** live objects on V8's heap (heapUsed) */
  allocated: string;
  /** V8's committed heap (heapTotal) */
  heap_size: string;
  /** memory outside the JavaScript heap that V8 tracks (Buffers and other external memory) */
  external: string;
  array_buffers: string;
  /** resident set of the process */
  total_physical_bytes: string;
  /** each V8 heap space: committed size and live objects, bytes */
  spaces: Record<string, { size: number; used: number }>;
}

export function adminMemory(): AdminMemory {
  const m = process.memoryUsage();
  const spaces: AdminMemory['spaces'] = {};
  for (const s of v8.getHeapSpaceStatistics()) spaces[s.space_name] = { size: s.space_size, used: s.space_used_size };
  return {
    allocated: String(m.heapUsed),
    heap_size: String(m.heapTotal),
    external: String(m.external),
    array_buffers: String(m.arrayBuffers),
    total_physical_bytes: String(m.rss),
    spaces,
  };
}

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;
let gcFunction: GcFunction | undefined;

/**
 * V8's gc() without `--expose-gc` on the command line: the flag set at run time exposes it in
 * contexts created afterwards.
 */
function gc(): GcFunction {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as GcFunction;
  }
  return gcFunction;
}

/**
 * One memory-reducing full GC. Node 22+ (V8 12+): the last-resort flavor (V8's
 * CollectAllAvailableGarbage: the young generation shrunk, freed pages released). Node 20's V8
 * runs a scavenge for any options object, so it gets a plain full GC, which shrinks the young
 * generation too when the allocation rate is low, as it is on a quiet proxy.
 */
export function memoryReducingGc(): void {
  if (Number(process.versions.node.split('.')[0]) >= 22) gc()({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  else gc()();
}
