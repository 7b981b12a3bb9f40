/**
 * RBAC's path index, built once per config: which policies a request's path (without query) can
 * possibly match, so that most policies of a large config are not evaluated per request.
 *
 * A policy gets a path gate when every one of its permissions requires the path to equal a
 * literal (url_path `exact`) or to start with one (url_path `prefix`, or the literal a `safe_regex`
 * starts with: Istio's `/team/{*}/items` becomes `/team/[^/]+/items`, which starts with `/team/`).
 * An `or_rules` is gated when all its rules are (the union of their literals), an `and_rules` when
 * one of its rules is. Anything else (`any`, methods alone, `not_rule`, `ignore_case`, suffix,
 * contains, a `:path` header rule) leaves the policy ungated: it is a candidate for every request.
 *
 * The literals are filed in a trie of path segments: a literal's complete segments (those followed
 * by a `/`; all of them for an exact literal) lead to the node it is filed under. A path that
 * equals or starts with the literal has those same first segments, so walking the path's segments
 * from the root passes that node. Each node keeps, precomputed and in the engine's policy order,
 * the policies filed under it or any of its ancestors plus the ungated ones: one walk (a map
 * lookup per segment, as deep as the trie goes) gives the candidates, and evaluating them in order
 * gives exactly the first match the full list would (a policy left out cannot match). Without a
 * path (network RBAC) a gated policy cannot match (its url_path rules never do): the ungated ones
 * are the candidates. The property test (test/proxy/filters/rbac-path-index.test.ts) compares
 * indexed and plain evaluation on random configs and paths.
 */
import { regexLiteralPrefix } from '../../core/regex-prefilter.js';

/** A path the gated policy needs: equal to `text` (exact) or starting with it. */
interface Literal {
  text: string;
  exact: boolean;
}

/** Above this many candidate entries in all (nodes × policies), no index: the plain list. */
export const PATH_INDEX_MAX_ENTRIES = 200_000;

function plainKeys(o: Record<string, any>): string[] {
  return Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== null);
}

/** The literals of a StringMatcher on the path, or undefined (no gate from it). */
function matcherLiterals(m: unknown): Literal[] | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const sm = m as Record<string, any>;
  if (sm.ignore_case === true) return undefined;
  const k = plainKeys(sm).filter((x) => x !== 'ignore_case');
  if (k.length !== 1) return undefined;
  if (k[0] === 'exact' && typeof sm.exact === 'string') return [{ text: sm.exact, exact: true }];
  if (k[0] === 'prefix' && typeof sm.prefix === 'string') return [{ text: sm.prefix, exact: false }];
  if (k[0] === 'safe_regex' && sm.safe_regex && typeof sm.safe_regex.regex === 'string') {
    const p = regexLiteralPrefix(sm.safe_regex.regex);
    return p === undefined ? undefined : [{ text: p, exact: false }];
  }
  return undefined;
}

/** The literals one of which a permission needs the path to match, or undefined (ungated). */
export function permissionPathLiterals(p: unknown, depth = 0): Literal[] | undefined {
  if (!p || typeof p !== 'object' || depth > 16) return undefined;
  const o = p as Record<string, any>;
  const k = plainKeys(o);
  if (k.length !== 1) return undefined;
  const v = o[k[0]];
  switch (k[0]) {
    case 'url_path': {
      if (!v || typeof v !== 'object' || plainKeys(v).length !== 1) return undefined;
      return matcherLiterals(v.path);
    }
    case 'or_rules': {
      const rules = v?.rules;
      if (!Array.isArray(rules) || rules.length === 0) return undefined;
      const out: Literal[] = [];
      for (const r of rules) {
        const l = permissionPathLiterals(r, depth + 1);
        if (l === undefined) return undefined;
        out.push(...l);
      }
      return out;
    }
    case 'and_rules': {
      const rules = v?.rules;
      if (!Array.isArray(rules)) return undefined;
      for (const r of rules) {
        const l = permissionPathLiterals(r, depth + 1);
        if (l !== undefined) return l;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The literals of a policy (its permissions are ORed: all must be gated), or undefined. */
export function policyPathLiterals(permissions: unknown[]): Literal[] | undefined {
  if (permissions.length === 0) return undefined;
  const out: Literal[] = [];
  for (const p of permissions) {
    const l = permissionPathLiterals(p);
    if (l === undefined) return undefined;
    for (const x of l) if (x.text.charCodeAt(0) !== 47 /* '/' */) return undefined;
    out.push(...l);
  }
  return out;
}

interface Node<T> {
  children: Map<string, Node<T>> | undefined;
  /** policy positions filed here */
  filed: number[];
  /** the candidates of a path whose walk ends here, in policy order */
  candidates: T[];
}

export interface PathIndex<T> {
  /** the policies a request with this path (no query; undefined: no request) may match, in order */
  candidates(urlPath: string | undefined): readonly T[];
}

/**
 * The index over `policies` (in evaluation order), `literals[i]` the gate of policy i (undefined:
 * ungated); undefined when indexing would not pay (nothing gated) or the index would be too big.
 */
export function buildPathIndex<T>(policies: readonly T[], literals: ReadonlyArray<Literal[] | undefined>): PathIndex<T> | undefined {
  if (!literals.some((l) => l !== undefined)) return undefined;
  const root: Node<T> = { children: undefined, filed: [], candidates: [] };
  const ungated: number[] = [];
  literals.forEach((lits, i) => {
    if (lits === undefined) {
      ungated.push(i);
      return;
    }
    for (const l of lits) {
      const pieces = l.text.slice(1).split('/');
      const complete = l.exact ? pieces : pieces.slice(0, -1);
      let node = root;
      for (const seg of complete) {
        const ch = (node.children ??= new Map());
        let next = ch.get(seg);
        if (next === undefined) ch.set(seg, (next = { children: undefined, filed: [], candidates: [] }));
        node = next;
      }
      if (node.filed.at(-1) !== i) node.filed.push(i);
    }
  });
  let entries = 0;
  let tooBig = false;
  const fill = (node: Node<T>, above: number[]): void => {
    if (tooBig) return;
    const here = above.concat(node.filed);
    const all = [...new Set(here.concat(ungated))].sort((a, b) => a - b);
    entries += all.length;
    if (entries > PATH_INDEX_MAX_ENTRIES) {
      tooBig = true;
      return;
    }
    node.candidates = all.map((i) => policies[i]);
    if (node.children) for (const c of node.children.values()) fill(c, here);
  };
  fill(root, []);
  if (tooBig) return undefined;
  const none = ungated.map((i) => policies[i]);
  return {
    candidates(p: string | undefined): readonly T[] {
      if (p === undefined) return none;
      let node = root;
      if (p.charCodeAt(0) !== 47) return node.candidates;
      let start = 1;
      for (;;) {
        const ch = node.children;
        if (ch === undefined) break;
        const end = p.indexOf('/', start);
        const next = ch.get(end < 0 ? p.slice(start) : p.slice(start, end));
        if (next === undefined) break;
        node = next;
        if (end < 0) break;
        start = end + 1;
      }
      return node.candidates;
    },
  };
}
