/** RouteMatch compiled into one predicate object per route (no per-request compiles). */
import { compileRegex, fail } from '../core/errors.js';
import type { Re2 } from '../../regex/regex-re2.js';
import { compileHeaderMatcher, compileStringMatcher, type HeaderPredicate, type StringPredicate } from '../core/string-matcher.js';
import type { HeaderMap } from './header-ops.js';

/** What a route is matched against; query is parsed lazily, at most once per request. */
export interface MatchInput {
  /** path without the query string */
  path: string;
  /** raw query string without '?', '' when none */
  query: string;
  headers: HeaderMap;
  parsedQuery?: URLSearchParams;
}

const enum PathKind {
  Prefix,
  Exact,
  Regex,
  SeparatedPrefix,
}

export class CompiledMatch {
  private readonly kind: PathKind;
  readonly pathValue: string;
  private readonly re: Re2 | undefined;
  private readonly caseSensitive: boolean;
  private readonly headers: HeaderPredicate[];
  private readonly query: Array<{ name: string; pred: StringPredicate | undefined; present: boolean }>;
  private readonly grpcOnly: boolean;

  constructor(m: Record<string, any>) {
    this.caseSensitive = m.case_sensitive?.value !== false && m.case_sensitive !== false;
    if (m.prefix !== undefined) {
      this.kind = PathKind.Prefix;
      this.pathValue = String(m.prefix);
    } else if (m.path !== undefined) {
      this.kind = PathKind.Exact;
      this.pathValue = String(m.path);
    } else if (m.safe_regex !== undefined) {
      this.kind = PathKind.Regex;
      this.pathValue = '';
    } else if (m.path_separated_prefix !== undefined) {
      this.kind = PathKind.SeparatedPrefix;
      this.pathValue = String(m.path_separated_prefix);
    } else if (m.connect_matcher !== undefined) {
      this.kind = PathKind.Prefix;
      this.pathValue = '';
    } else {
      fail('route match without path specifier');
    }
    if (!this.caseSensitive) this.pathValue = this.pathValue.toLowerCase();
    // Envoy: case_sensitive does not apply to safe_regex (use (?i) in the pattern)
    this.re = this.kind === PathKind.Regex ? compileRegex(m.safe_regex.regex, 'route match safe_regex') : undefined;
    this.headers = ((m.headers ?? []) as Array<Record<string, any>>).map(compileHeaderMatcher);
    this.query = ((m.query_parameters ?? []) as Array<Record<string, any>>).map((q) => ({
      name: String(q.name),
      pred: q.string_match ? compileStringMatcher(q.string_match) : undefined,
      present: q.present_match === true || !q.string_match,
    }));
    this.grpcOnly = m.grpc !== undefined;
  }

  matches(input: MatchInput): boolean {
    const path = this.caseSensitive ? input.path : input.path.toLowerCase();
    switch (this.kind) {
      case PathKind.Prefix:
        if (!path.startsWith(this.pathValue)) return false;
        break;
      case PathKind.Exact:
        if (path !== this.pathValue) return false;
        break;
      case PathKind.Regex:
        if (!this.re!.fullMatch(input.path)) return false;
        break;
      case PathKind.SeparatedPrefix:
        if (!path.startsWith(this.pathValue)) return false;
        if (path.length > this.pathValue.length && path[this.pathValue.length] !== '/') return false;
        break;
    }
    for (let i = 0; i < this.headers.length; i++) if (!this.headers[i].test(input.headers)) return false;
    if (this.query.length > 0) {
      const q = (input.parsedQuery ??= new URLSearchParams(input.query));
      for (const qm of this.query) {
        const v = q.get(qm.name);
        if (v === null) return false;
        if (qm.pred && !qm.pred(v)) return false;
      }
    }
    if (this.grpcOnly) {
      const ct = input.headers['content-type'];
      if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return false;
    }
    return true;
  }
}
