/** Envoy StringMatcher / HeaderMatcher compiled to a predicate once per config. */
import { compileRegex, fail } from './errors.js';
import { regexPrefilter } from './regex-prefilter.js';

export type StringPredicate = (v: string) => boolean;

let lastIn = '';
let lastLower = '';

/**
 * v.toLowerCase(), remembering the last answer for the whole process: the ignore_case matchers of
 * one request mostly look at the same value in turn (RBAC's host rules: the authority, a dozen
 * times), so it is lower-cased once.
 */
export function lowerCased(v: string): string {
  if (v !== lastIn) {
    lastLower = v.toLowerCase();
    lastIn = v;
  }
  return lastLower;
}

/** envoy.type.matcher.v3.StringMatcher */
export function compileStringMatcher(m: Record<string, any>): StringPredicate {
  const ic = m.ignore_case === true;
  if (m.exact !== undefined) {
    const e = ic ? String(m.exact).toLowerCase() : String(m.exact);
    return ic ? (v) => lowerCased(v) === e : (v) => v === e;
  }
  if (m.prefix !== undefined) {
    const p = ic ? String(m.prefix).toLowerCase() : String(m.prefix);
    return ic ? (v) => lowerCased(v).startsWith(p) : (v) => v.startsWith(p);
  }
  if (m.suffix !== undefined) {
    const s = ic ? String(m.suffix).toLowerCase() : String(m.suffix);
    return ic ? (v) => lowerCased(v).endsWith(s) : (v) => v.endsWith(s);
  }
  if (m.contains !== undefined) {
    const c = ic ? String(m.contains).toLowerCase() : String(m.contains);
    return ic ? (v) => lowerCased(v).includes(c) : (v) => v.includes(c);
  }
  if (m.safe_regex !== undefined) {
    // Envoy: ignore_case has no effect on safe_regex (use (?i) in the pattern)
    const re = compileRegex(m.safe_regex.regex);
    // Istio's `*` (present) and `{**}`: RE2's `.` is any character but a newline
    if (m.safe_regex.regex === '.+') return (v) => v.length > 0 && !v.includes('\n');
    if (m.safe_regex.regex === '.*') return (v) => !v.includes('\n');
    const pre = regexPrefilter(m.safe_regex.regex, lowerCased);
    return pre === undefined ? (v) => re.fullMatch(v) : (v) => pre(v) && re.fullMatch(v);
  }
  fail('string matcher without a match kind');
}

export interface HeaderPredicate {
  name: string;
  test(headers: Record<string, string | string[] | undefined>): boolean;
  /** the same test on the header's value, already looked up (undefined: absent) */
  testValue(raw: string | string[] | undefined): boolean;
}

/** envoy.config.route.v3.HeaderMatcher */
export function compileHeaderMatcher(h: Record<string, any>): HeaderPredicate {
  const name = String(h.name ?? '').toLowerCase();
  if (!name) fail('header matcher without name');
  const invert = h.invert_match === true;
  let pred: StringPredicate | undefined;
  let present: boolean | undefined;
  if (h.string_match) pred = compileStringMatcher(h.string_match);
  else if (h.exact_match !== undefined) pred = compileStringMatcher({ exact: h.exact_match });
  else if (h.prefix_match !== undefined) pred = compileStringMatcher({ prefix: h.prefix_match });
  else if (h.suffix_match !== undefined) pred = compileStringMatcher({ suffix: h.suffix_match });
  else if (h.contains_match !== undefined) pred = compileStringMatcher({ contains: h.contains_match });
  else if (h.safe_regex_match !== undefined) pred = compileStringMatcher({ safe_regex: h.safe_regex_match });
  else if (h.present_match !== undefined) present = h.present_match !== false;
  else if (h.range_match) {
    const start = Number(h.range_match.start);
    const end = Number(h.range_match.end);
    pred = (v) => /^-?\d+$/.test(v) && Number(v) >= start && Number(v) < end;
  } else present = true;
  const treatMissingAsEmpty = h.treat_missing_header_as_empty === true;
  const testValue = (raw: string | string[] | undefined): boolean => {
    if (raw === undefined) {
      if (present !== undefined) return present ? invert : !invert;
      if (treatMissingAsEmpty && pred) return pred('') !== invert;
      return false;
    }
    const v = Array.isArray(raw) ? raw.join(',') : raw;
    if (present !== undefined) return present ? !invert : invert;
    return pred!(v) !== invert;
  };
  return {
    name,
    testValue,
    test(headers) {
      let raw = headers[name];
      if (name === ':authority' && raw === undefined) raw = headers.host;
      return testValue(raw);
    },
  };
}
