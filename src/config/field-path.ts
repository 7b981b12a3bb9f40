/**
 * Field paths (`spec.http[0].match[0].headers.end-user`) and the per-resource map from a path
 * to the YAML line it was written on.
 */
import { isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { SourceRef } from './types.js';

const PLAIN_KEY = /^[A-Za-z0-9_-]+$/;

export function joinKey(prefix: string, key: string): string {
  const seg = PLAIN_KEY.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (!prefix) return seg;
  return seg.startsWith('[') ? `${prefix}${seg}` : `${prefix}.${seg}`;
}

export function joinIndex(prefix: string, i: number): string {
  return `${prefix}[${i}]`;
}

/** The parent of a path, or undefined at the root. */
export function parentPath(path: string): string | undefined {
  if (!path) return undefined;
  if (path.endsWith(']')) {
    // `a[0]` or `a["x.y"]`: strip the trailing bracket segment (quoted keys may hold `[`).
    const quoted = path.endsWith('"]') ? path.lastIndexOf('["') : -1;
    return path.slice(0, quoted >= 0 ? quoted : path.lastIndexOf('['));
  }
  const dot = path.lastIndexOf('.');
  return dot < 0 ? '' : path.slice(0, dot);
}

export type LineMap = Map<string, number>;

/**
 * Records the line of every key and sequence item under `node`. Keyed by field path relative
 * to the resource; the resource itself ('') resolves to its SourceRef line (`kind:`).
 */
export function buildLineMap(node: Node, lc: LineCounter): LineMap {
  const map: LineMap = new Map();
  const lineOf = (offset: number) => lc.linePos(offset).line;
  const walk = (n: unknown, path: string) => {
    if (isMap(n)) {
      for (const pair of n.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        const p = joinKey(path, key);
        if (pair.key.range) map.set(p, lineOf(pair.key.range[0]));
        walk(pair.value, p);
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => {
        const p = joinIndex(path, i);
        const range = (item as Node | null)?.range;
        if (range) map.set(p, lineOf(range[0]));
        walk(item, p);
      });
    }
  };
  walk(node, '');
  return map;
}

// Keyed by the SourceRef object so shallow copies of a resource ({...r}) keep their lines,
// while JSON/YAML output of the resource never carries them.
const lineMaps = new WeakMap<SourceRef, LineMap>();

export function attachLineMap(source: SourceRef, map: LineMap): void {
  lineMaps.set(source, map);
}

/** The line of a field, else of its nearest ancestor, else of the resource. */
export function lineForPath(source: SourceRef | undefined, path: string): number {
  if (!source) return 0;
  const map = lineMaps.get(source);
  if (map) {
    for (let p: string | undefined = path; p !== undefined; p = parentPath(p)) {
      const line = map.get(p);
      if (line !== undefined) return line;
    }
  }
  return source.line;
}

/** After a field is renamed, its new path (and everything under it) keeps the old path's lines. */
export function aliasLines(source: SourceRef | undefined, from: string, to: string): void {
  const map = source ? lineMaps.get(source) : undefined;
  if (!map) return;
  for (const [p, line] of [...map]) {
    if (p === from) map.set(to, line);
    else if (p.startsWith(from) && (p[from.length] === '.' || p[from.length] === '[')) map.set(to + p.slice(from.length), line);
  }
}
