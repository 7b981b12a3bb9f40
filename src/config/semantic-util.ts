/** Defensive accessors: semantic checks run even when the schema check found type errors. */
import { isPlainObject } from './schema-dsl.js';

export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj {
  return isPlainObject(v) ? v : {};
}

export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asObjList(v: unknown): Obj[] {
  return asList(v).map(asObj);
}

export function asStr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function asNum(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

export function has(o: Obj, key: string): boolean {
  return o[key] !== undefined && o[key] !== null;
}

/** Reports each repeated value once, at its second and later occurrences. */
export function findDuplicates<T>(values: (T | undefined)[], onDuplicate: (value: T, index: number) => void): void {
  const seen = new Set<T>();
  values.forEach((v, i) => {
    if (v === undefined) return;
    if (seen.has(v)) onDuplicate(v, i);
    seen.add(v);
  });
}

/** Istio's rule for `workloadSelector.labels` (ServiceEntry, Sidecar): no wildcards, no empty key. */
export function checkSelectorLabels(labels: unknown, p: string, rep: { error(field: string, message: string, code: string): void }, code: string): void {
  for (const [k, v] of Object.entries(asObj(labels))) {
    const lp = `${p}${/^[A-Za-z0-9_-]+$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`}`;
    if (k === '') rep.error(lp, 'empty key is not supported in selector', code);
    else if (k.includes('*') || (typeof v === 'string' && v.includes('*'))) rep.error(lp, 'wildcard is not supported in selector', code);
  }
}
