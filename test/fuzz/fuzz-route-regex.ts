/**
 * Fuzz target: route regex compilation and matching (issue 23, "Prevent the next ones").
 * Patterns come from a grammar of RE2 and JavaScript regex syntax, mutated with stray
 * metacharacters, or are arbitrary strings. Properties:
 * - compiling either succeeds or fails with Re2SyntaxError, and `clew validate`
 *   (src/config/value-regex.ts) and the proxy (safe_regex -> NACK) agree on which;
 * - matching is linear: a compiled pattern against short inputs and against long runs of one
 *   character (the shapes that make a backtracking engine exponential) stays under the limit;
 * - on the syntax RE2 and JavaScript share, a full match agrees with JavaScript's `^(?:p)$`
 *   (short inputs, where backtracking is still cheap);
 * - regex_rewrite replacing every match with itself (`\0`) gives the input back.
 *
 *   node dist/test/fuzz/fuzz-route-regex.js --minutes 10 [--seed N]
 */
import fc from 'fast-check';
import v8 from 'node:v8';
import { Re2, Re2SyntaxError } from '../../src/regex/regex-re2.js';
import { checkRegex } from '../../src/config/value-regex.js';
import { compileRegex, ProxyConfigError } from '../../src/proxy/core/errors.js';
import { fuzzMain, isMain, type FuzzTarget } from './fuzz-runner.js';

// The JavaScript oracle backtracks too: a 10-character input against a nested pattern held the
// first 10-minute run for 25 minutes, and V8's fallback on excessive backtracking does not cover
// nested counted repetition (a later run: 27 s on a 9-character input). The oracle is V8's linear
// engine (the `l` flag, same semantics); a pattern it cannot run in linear time is compared with
// nothing (RE2's own answer and time are still checked).
v8.setFlagsFromString('--enable-experimental-regexp-engine');

/** `^(?:p)$` on V8's linear engine, or undefined when that engine cannot take the pattern. */
function linearOracle(pattern: string): RegExp | undefined {
  try {
    return new RegExp(`^(?:${pattern})$`, 'l');
  } catch {
    return undefined;
  }
}

export interface RegexInput {
  pattern: string;
  /** built only from syntax RE2 and JavaScript read the same way */
  common: boolean;
  inputs: string[];
}

/** RE2 and JS agree on these, for inputs over ALPHABET (no \r, \v or non-ASCII: `.`/`\s` differ there) */
const COMMON_ATOMS = ['a', 'b', '/', '-', '_', 'A', ' ', '\\.', '\\/', '.', '\\d', '\\w', '\\s', '\\D', '[a-c]', '[^/]', '[ab/]', '[.]', '[^a]', '\\-'];
/** RE2-only (or read differently by JS without the u flag) */
const RE2_ATOMS = ['\\pL', '\\p{Greek}', '[[:alpha:]]', '[[:^digit:]]', '\\Qa.b\\E', '\\z', '\\A', '\\C', '(?i)a', '(?s).', '(?U)a+'];
/** JS-only or invalid in RE2 */
const JS_ATOMS = ['(?=a)', '(?!b)', '(?<=a)', '\\1', '\\k<n>', 'a{1001}', '\\cA', '\\u0041', '(?<n>a)'];
const QUANTIFIERS = ['', '', '', '*', '+', '?', '{2}', '{1,3}', '{0,}', '*?', '+?', '??', '{2,5}?'];
const META = ['(', ')', '[', ']', '{', '}', '*', '+', '?', '|', '\\', '^', '$', '.', '-', ':', '<', '>', 'P', '=', '!'];
export const ALPHABET = ['a', 'b', '/', '.', '-', '_', 'A', ' ', '\n', '0', '9', 'z'];

interface Tree {
  text: string;
  common: boolean;
}

const atom = (common: boolean): fc.Arbitrary<Tree> =>
  common
    ? fc.constantFrom(...COMMON_ATOMS).map((text) => ({ text, common: true }))
    : fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...COMMON_ATOMS).map((text) => ({ text, common: true })) },
        { weight: 1, arbitrary: fc.constantFrom(...RE2_ATOMS).map((text) => ({ text, common: false })) },
        { weight: 1, arbitrary: fc.constantFrom(...JS_ATOMS).map((text) => ({ text, common: false })) },
      );

function grammar(common: boolean): fc.Arbitrary<Tree> {
  const { expr } = fc.letrec<{ expr: Tree; piece: Tree; seq: Tree }>((tie) => ({
    piece: fc.tuple(
      fc.oneof({ maxDepth: 2, depthIdentifier: 'regex' }, atom(common), fc.tuple(fc.constantFrom('(', '(?:'), tie('expr')).map(([open, e]) => ({ text: `${open}${e.text})`, common: e.common }))),
      fc.constantFrom(...QUANTIFIERS),
    ).map(([p, q]) => ({ text: p.text + q, common: p.common })), // lazy or greedy: the same full matches
    seq: fc.array(tie('piece'), { minLength: 1, maxLength: 4 }).map((ps) => ({ text: ps.map((p) => p.text).join(''), common: ps.every((p) => p.common) })),
    expr: fc.array(tie('seq'), { minLength: 1, maxLength: 3 }).map((ss) => ({ text: ss.map((s) => s.text).join('|'), common: ss.every((s) => s.common) })),
  }));
  return expr;
}

/** A few stray metacharacters inserted: mostly syntax errors, sometimes odd valid patterns. */
const mutated: fc.Arbitrary<Tree> = fc
  .tuple(grammar(false), fc.array(fc.tuple(fc.nat(), fc.constantFrom(...META)), { minLength: 1, maxLength: 3 }))
  .map(([t, edits]) => {
    let s = t.text;
    for (const [at, c] of edits) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + c + s.slice(i);
    }
    return { text: s, common: false };
  });

const input = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 10 }).map((cs) => cs.join(''));

export const ROUTE_REGEX_TARGET: FuzzTarget<RegexInput> = {
  name: 'route-regex',
  arbitrary: fc
    .tuple(
      fc.oneof(
        { weight: 4, arbitrary: grammar(true) },
        { weight: 3, arbitrary: grammar(false) },
        { weight: 2, arbitrary: mutated },
        { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((text) => ({ text, common: false })) },
      ),
      fc.array(input, { minLength: 1, maxLength: 6 }),
    )
    .map(([t, inputs]) => ({ pattern: t.text, common: t.common, inputs })),
  // a corpus line: [pattern, input...], or {pattern, common, inputs} for the JavaScript comparison
  fromCorpus: (v) => {
    if (!Array.isArray(v)) return v as RegexInput;
    const [pattern, ...inputs] = v as string[];
    return { pattern, common: false, inputs };
  },
  check: checkRegexInput,
};

const LONG = 1000;

export function checkRegexInput({ pattern, common, inputs }: RegexInput): void {
  let re: Re2 | undefined;
  try {
    re = Re2.compile(pattern);
  } catch (err) {
    if (!(err instanceof Re2SyntaxError)) throw new Error(`compile ${JSON.stringify(pattern)} threw ${String(err)}`);
  }
  // clew validate and the proxy decide the same way
  const validation = checkRegex(pattern);
  if ((validation === undefined) !== (re !== undefined)) {
    throw new Error(`clew validate says ${JSON.stringify(validation)} for ${JSON.stringify(pattern)}, the compiler ${re ? 'accepts it' : 'rejects it'}`);
  }
  try {
    compileRegex(pattern);
    if (!re) throw new Error(`the proxy accepted ${JSON.stringify(pattern)}`);
  } catch (err) {
    if (!(err instanceof ProxyConfigError)) throw err;
    if (re) throw new Error(`the proxy rejected ${JSON.stringify(pattern)}: ${err.message}`);
  }
  if (!re) return;
  const js = common ? linearOracle(pattern) : undefined;
  if (js) {
    for (const s of inputs) {
      if (re.fullMatch(s) !== js.test(s)) throw new Error(`${JSON.stringify(pattern)} on ${JSON.stringify(s)}: RE2 ${re.fullMatch(s)}, JavaScript ${js.test(s)}`);
    }
  }
  const identity = re.substitution('\\0');
  for (const s of [...inputs, ...inputs.map((s) => s.repeat(3))]) {
    re.fullMatch(s);
    re.partialMatch(s);
    const back = re.replaceAll(s, identity);
    if (back !== s) throw new Error(`${JSON.stringify(pattern)}: replacing every match of ${JSON.stringify(s)} with itself gave ${JSON.stringify(back)}`);
  }
  // long runs of one character, then something else: exponential for a backtracking engine
  for (const c of ['a', 'b', '/', 'A']) {
    const run = c.repeat(LONG);
    re.fullMatch(`${run}!`);
    re.fullMatch(run);
    re.partialMatch(`${run}\n`);
  }
}

if (isMain(import.meta.url)) fuzzMain(ROUTE_REGEX_TARGET);
