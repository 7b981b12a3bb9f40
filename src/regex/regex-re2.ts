/**
 * RE2 regular expressions (Envoy's `safe_regex` / `google_re2`, Istio's `regex` string matches):
 * RE2 syntax, matching in time linear in the input. Backed by re2js (a pure-JS port of RE2/Go's
 * regexp, see ARCHITECTURE.md's dependency table for why), loaded on first use so a proxy whose
 * config has no regex does not carry it.
 *
 * - `fullMatch` is Envoy's RE2::FullMatch (route path, header, query and string matchers).
 * - `replaceAll` is Envoy's regex_rewrite: RE2::GlobalReplace with a substitution whose `\0`..`\9`
 *   name capture groups and `\\` is a backslash, checked when the config is compiled.
 * - Patterns whose program exceeds Istio's `re2.max_program_size.error_level` (32768) are refused,
 *   as Envoy refuses them under Istio's bootstrap.
 */
import { createRequire } from 'node:module';
import type { RE2JS as Re2jsPattern } from 're2js';

/** Istio's bootstrap sets Envoy's runtime key re2.max_program_size.error_level to this. */
export const RE2_MAX_PROGRAM_SIZE = 32768;

export class Re2SyntaxError extends Error {
  readonly code = 'CLEW_RE2_SYNTAX';
  constructor(message: string) {
    super(message);
    this.name = 'Re2SyntaxError';
  }
}

interface Re2jsModule {
  RE2JS: { compile(regex: string, flags?: number): Re2jsPattern };
}

let engine: Re2jsModule | undefined;
function re2js(): Re2jsModule {
  engine ??= createRequire(import.meta.url)('re2js') as Re2jsModule;
  return engine;
}

/** One piece of a compiled substitution: literal text, or a capture group number. */
type SubPart = string | number;

export class Re2 {
  private constructor(
    readonly source: string,
    private readonly re: Re2jsPattern,
    readonly groups: number,
  ) {}

  static compile(source: string): Re2 {
    let re: Re2jsPattern;
    try {
      re = re2js().RE2JS.compile(source);
    } catch (err) {
      throw new Re2SyntaxError(re2Message(err));
    }
    const size = re.programSize();
    if (size > RE2_MAX_PROGRAM_SIZE) {
      throw new Re2SyntaxError(`regex program size ${size} exceeds the maximum of ${RE2_MAX_PROGRAM_SIZE} (simplify the pattern)`);
    }
    return new Re2(source, re, re.groupCount());
  }

  /** RE2::FullMatch: the whole input matches. */
  fullMatch(input: string): boolean {
    return this.re.testExact(input);
  }

  /** RE2::PartialMatch: some part of the input matches. */
  partialMatch(input: string): boolean {
    return this.re.test(input);
  }

  /** Checks a regex_rewrite substitution against this pattern once; use the result with replaceAll(). */
  substitution(sub: string): Re2Substitution {
    const parts: SubPart[] = [];
    let lit = '';
    for (let i = 0; i < sub.length; i++) {
      const c = sub[i];
      if (c !== '\\') {
        lit += c;
        continue;
      }
      const n = sub[++i];
      if (n === '\\') lit += '\\';
      else if (n !== undefined && n >= '0' && n <= '9') {
        const g = n.charCodeAt(0) - 48;
        if (g > this.groups) throw new Re2SyntaxError(`substitution ${JSON.stringify(sub)} refers to group \\${g}, the regex has ${this.groups}`);
        if (lit) parts.push(lit);
        lit = '';
        parts.push(g);
      } else throw new Re2SyntaxError(`invalid substitution ${JSON.stringify(sub)}: '\\' must be followed by a digit or '\\'`);
    }
    if (lit || parts.length === 0) parts.push(lit);
    return { parts };
  }

  /**
   * RE2::GlobalReplace: every non-overlapping match, left to right; an empty match right after
   * the previous match is skipped (one character is copied instead). Returns the input itself
   * when nothing matched.
   */
  replaceAll(input: string, sub: Re2Substitution): string {
    const m = this.re.matcher(input);
    let out = '';
    let p = 0;
    let lastEnd = -1;
    let count = 0;
    while (p <= input.length && m.find(p)) {
      const s = m.start();
      const e = m.end();
      if (s > p) out += input.slice(p, s);
      if (s === e && s === lastEnd) {
        // empty match where the previous one ended: copy one character (a whole code point) and go on
        if (p < input.length) {
          const step = input.codePointAt(p)! > 0xffff ? 2 : 1;
          out += input.slice(p, p + step);
          p += step;
        } else p++;
        continue;
      }
      for (const part of sub.parts) {
        if (typeof part === 'string') out += part;
        else out += m.group(part) ?? '';
      }
      p = lastEnd = e;
      count++;
    }
    if (count === 0) return input;
    if (p < input.length) out += input.slice(p);
    return out;
  }
}

export interface Re2Substitution {
  readonly parts: readonly SubPart[];
}

/** The syntax error of an RE2 pattern, or undefined when it compiles. */
export function re2SyntaxError(source: string): string | undefined {
  try {
    Re2.compile(source);
    return undefined;
  } catch (err) {
    if (err instanceof Re2SyntaxError) return err.message;
    throw err;
  }
}

function re2Message(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.startsWith('error parsing regexp: ') ? msg.slice('error parsing regexp: '.length) : msg;
}
