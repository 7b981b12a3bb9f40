/**
 * The report's view of Node's own floor: where each target's memory is (anonymous versus
 * file-backed pages, next to a bare node process), and Clew side by side with the raw TCP relays
 * measured in the same run.
 */
import type { MemBreakdown } from './bench-mem.js';
import { FLOOR_MESH, FLOOR_ONE_HOP, type Results, type TargetSummary } from './bench-results.js';
import { f as fmt, table as mdTable } from './bench-md.js';

const memCells = (m: MemBreakdown | undefined) => [fmt(m?.rssMb), fmt(m?.anonMb), fmt(m?.fileMb)];

/** RSS split into anonymous and file-backed pages, idle and after the runs; the bare node process last. */
export function memoryTable(r: Results): string[] {
  const rows = r.summary.filter((t) => t.proxies > 0 && (t.memIdle || t.memAfter));
  if (!rows.length && !r.bareNode?.idle) return [];
  const body = rows.map((t) => [t.label, ...memCells(t.memIdle), ...memCells(t.memAfter)]);
  if (r.bareNode) body.push([`bare node: \`${r.bareNode.command}\``, ...memCells(r.bareNode.idle), ...memCells(r.bareNode.after)]);
  return [
    'Where the RSS is (/proc/<pid>/smaps_rollup, summed over a target\'s processes): anonymous pages are what the process allocated (V8 heap, JIT code, buffers, stacks); file-backed pages are mapped files, mostly the executable and its libraries, which every process running the same binary shares (a sum over two processes counts them twice). The bare node process only idles, started with the sidecar\'s node flags at the same time as the targets.', '',
    ...mdTable(['target', 'idle RSS MB', 'anonymous', 'file-backed', 'after runs RSS MB', 'anonymous', 'file-backed'], body), '',
  ];
}

interface Pair { label: string; clew: number | undefined; floor: number | undefined; digits: number }

function pairRows(pairs: Pair[]): string[][] {
  return pairs.map((p) => {
    const both = p.clew !== undefined && p.floor !== undefined && Number.isFinite(p.clew) && Number.isFinite(p.floor);
    return [p.label, fmt(p.clew, p.digits), fmt(p.floor, p.digits), both ? fmt(p.clew! - p.floor!, p.digits) : '–', both && p.floor! > 0 ? fmt(p.clew! / p.floor!, 2) : '–'];
  });
}

function hopPairs(what: string, clew: TargetSummary | undefined, floor: TargetSummary | undefined): Pair[] {
  if (!clew || !floor) return [];
  return [
    { label: `${what}: adds p50 µs at 1000 rps`, clew: clew.addedLatency.p50, floor: floor.addedLatency.p50, digits: 0 },
    { label: `${what}: adds p90 µs at 1000 rps`, clew: clew.addedLatency.p90, floor: floor.addedLatency.p90, digits: 0 },
    { label: `${what}: adds p99 µs at 1000 rps`, clew: clew.addedLatency.p99, floor: floor.addedLatency.p99, digits: 0 },
    { label: `${what}: wrk rps`, clew: clew.rps, floor: floor.rps, digits: 0 },
    { label: `${what}: CPU µs / request (wrk)`, clew: clew.cpuUsPerRequest, floor: floor.cpuUsPerRequest, digits: 1 },
    { label: `${what}: vCPU per 1000 rps (hey)`, clew: clew.vcpuPer1000Rps, floor: floor.vcpuPer1000Rps, digits: 3 },
  ];
}

/** Clew next to the raw TCP relays and the bare node process of the same run. */
export function floorSection(r: Results): string[] {
  const by = (id: string) => r.summary.find((t) => t.id === id);
  const sc = by('clew-sidecar');
  const pairs: Pair[] = [...hopPairs('one hop (sidecar vs one relay)', sc, by(FLOOR_ONE_HOP)), ...hopPairs('mesh path (2 sidecars vs 2 relays)', by('clew-mesh'), by(FLOOR_MESH))];
  const bare = r.bareNode?.idle;
  if (sc?.memIdle && bare) {
    pairs.push({ label: 'idle RSS MB (sidecar vs bare node)', clew: sc.memIdle.rssMb, floor: bare.rssMb, digits: 1 });
    pairs.push({ label: 'idle anonymous MB (sidecar vs bare node)', clew: sc.memIdle.anonMb, floor: bare.anonMb, digits: 1 });
  }
  if (!pairs.length) return [];
  return [
    '## Clew against Node\'s own floor (same run)', '',
    'The floor: `Node TCP relay` is bench/tcp-relay.ts, a raw byte relay (no HTTP parsing, one upstream connection per downstream connection, TCP_NODELAY) and the least a Node process in the path can cost; `×2` chains two of them on the proxy CPU, the least a two-hop Node mesh path can cost. The bare node process idles with the sidecar\'s node flags. All pinned and measured like the other targets, interleaved in the same rounds.', '',
    ...mdTable(['figure', 'Clew', 'Node floor', 'Clew − floor', 'Clew ÷ floor'], pairRows(pairs)), '',
  ];
}
