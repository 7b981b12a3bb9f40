/**
 * The admin's /memory (Envoy's endpoint, with V8's figures in place of tcmalloc's): what the
 * process holds, for a soak or an operator to tell live JavaScript objects (heap used) from
 * pages V8 keeps committed (heap size, the young generation) and from what lives outside the
 * heap (Buffers, native memory). Values in bytes, as Envoy's numbers-as-strings.
 */
import v8 from 'node:v8';

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
