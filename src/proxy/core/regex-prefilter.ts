/**
 * A cheap necessary condition for a full match of an RE2 pattern, found once per config: the
 * literal text the pattern requires (a prefix, a suffix, substrings between). A value without it
 * cannot match, so the regex engine (re2js, about 0.5-2 µs a call) runs only for values that have
 * it. Istio's generated patterns all have such text (`/team/[^/]+/items` path templates,
 * `(?i).*\.example\.com:[0-9]+` hosts with a port), and RBAC tries many patterns per request that
 * mostly do not match.
 *
 * Conservative by construction: anything the scan does not fully understand (alternation at the
 * top level, anchors, counted repetition, flags other than a leading `(?i)`, escapes of letters
 * or digits) gives no prefilter, and the regex alone decides. Groups and classes are opaque: they
 * end a literal run. A quantified literal is not required. Under `(?i)` the check applies only to
 * ASCII values, compared lower-cased (RE2 folds `k` with U+212A and `s` with U+017F, which an
 * ASCII value cannot contain).
 */

export type Prefilter = (v: string) => boolean;

interface Scan {
  ci: boolean;
  /** literal runs in order; `atStart`/`atEnd`: the run begins/ends the pattern */
  runs: Array<{ text: string; atStart: boolean; atEnd: boolean }>;
}

const META = new Set(['\\', '.', '[', ']', '(', ')', '{', '}', '*', '+', '?', '|', '^', '$']);

function skipClass(p: string, i: number): number {
  // p[i] === '['; a ']' first (after an optional '^') is a literal member
  let j = i + 1;
  if (p[j] === '^') j++;
  if (p[j] === ']') j++;
  for (; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === '[' && p[j + 1] === ':') {
      const end = p.indexOf(':]', j + 2);
      if (end < 0) return -1;
      j = end + 1;
    } else if (p[j] === ']') return j + 1;
  }
  return -1;
}

function skipGroup(p: string, i: number): number {
  let depth = 0;
  for (let j = i; j < p.length; j++) {
    const c = p[j];
    if (c === '\\') j++;
    else if (c === '[') {
      const end = skipClass(p, j);
      if (end < 0) return -1;
      j = end - 1;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return j + 1;
  }
  return -1;
}

function scan(pattern: string): Scan | undefined {
  let p = pattern;
  let ci = false;
  if (p.startsWith('(?i)')) {
    ci = true;
    p = p.slice(4);
  }
  // atoms: a literal character, or undefined for anything else
  const atoms: Array<string | undefined> = [];
  for (let i = 0; i < p.length;) {
    const c = p[i];
    if (!META.has(c)) {
      atoms.push(c);
      i++;
    } else if (c === '\\') {
      const n = p[i + 1];
      if (n === undefined || /[0-9A-Za-z]/.test(n)) return undefined;
      atoms.push(n);
      i += 2;
    } else if (c === '.') {
      atoms.push(undefined);
      i++;
    } else if (c === '[') {
      const end = skipClass(p, i);
      if (end < 0) return undefined;
      atoms.push(undefined);
      i = end;
    } else if (c === '(') {
      if (p[i + 1] === '?' && !p.startsWith('(?:', i)) return undefined;
      const end = skipGroup(p, i);
      if (end < 0) return undefined;
      atoms.push(undefined);
      i = end;
    } else if (c === '*' || c === '+' || c === '?') {
      if (atoms.length === 0) return undefined;
      atoms[atoms.length - 1] = undefined;
      i++;
    } else {
      // | ^ $ { } ) ]: not understood here
      return undefined;
    }
  }
  const runs: Scan['runs'] = [];
  let cur = '';
  let start = 0;
  for (let k = 0; k <= atoms.length; k++) {
    const a = k < atoms.length ? atoms[k] : undefined;
    if (a !== undefined) {
      if (cur === '') start = k;
      cur += a;
      continue;
    }
    if (cur !== '') runs.push({ text: cur, atStart: start === 0, atEnd: k === atoms.length });
    cur = '';
  }
  return { ci, runs };
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/;

/** The prefilter of an RE2 pattern (for full matches), or undefined when there is none to have. */
export function regexPrefilter(pattern: string, lower: (v: string) => string = (v) => v.toLowerCase()): Prefilter | undefined {
  const s = scan(pattern);
  if (s === undefined || s.runs.length === 0) return undefined;
  if (s.ci && s.runs.some((r) => NON_ASCII.test(r.text))) return undefined;
  const runs = s.ci ? s.runs.map((r) => ({ ...r, text: r.text.toLowerCase() })) : s.runs;
  const prefix = runs[0].atStart ? runs[0].text : '';
  const suffix = runs[runs.length - 1].atEnd ? runs[runs.length - 1].text : '';
  const inner = runs.filter((r) => !r.atStart && !r.atEnd).map((r) => r.text);
  const minLength = runs.reduce((n, r) => n + r.text.length, 0);
  const check = (v: string): boolean => {
    if (v.length < minLength) return false;
    if (prefix && !v.startsWith(prefix)) return false;
    if (suffix && !v.endsWith(suffix)) return false;
    for (const t of inner) if (!v.includes(t)) return false;
    return true;
  };
  if (!s.ci) return check;
  return (v) => NON_ASCII.test(v) || check(lower(v));
}

/**
 * The literal text every full match of a case-sensitive RE2 pattern starts with (`/team/` of
 * `/team/[^/]+/items`), or undefined when the scan finds none (no leading literal, `(?i)`, or a
 * pattern it does not understand). RBAC's path index files a regex path rule under it.
 */
export function regexLiteralPrefix(pattern: string): string | undefined {
  const s = scan(pattern);
  if (s === undefined || s.ci || s.runs.length === 0 || !s.runs[0].atStart) return undefined;
  return s.runs[0].text;
}
