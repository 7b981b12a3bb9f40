/**
 * Regex checks for Istio `regex` string matches and `uriRegexRewrite`: Envoy compiles them with
 * RE2, and so does Clew's proxy (src/regex), so a pattern is checked with RE2's syntax (no
 * lookaround or backreferences; `(?i)`, `\pL`, `[[:alpha:]]`, `\z` allowed) and Istio's program
 * size limit, exactly as the proxy will compile it.
 */
import { Re2, re2SyntaxError, Re2SyntaxError } from '../regex/regex-re2.js';

export function checkRegex(src: string): string | undefined {
  const err = re2SyntaxError(src);
  if (err === undefined) return undefined;
  return `invalid regex (RE2 syntax): ${unsupportedPerlFeature(src) ?? err}`;
}

/** A clearer reason than RE2's parser gives for the two Perl features people reach for most. */
function unsupportedPerlFeature(src: string): string | undefined {
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const next = src[i + 1] ?? '';
      if ((next >= '1' && next <= '9') || next === 'k') return 'backreferences are not supported';
      i++;
    } else if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!') || rest === '<=' || rest === '<!') return 'lookaround is not supported';
    }
  }
  return undefined;
}

/** uriRegexRewrite: the rewrite may name groups `\0`..`\9` of `match`; any other `\` escape is an error. */
export function checkRegexRewrite(match: string, rewrite: string): string | undefined {
  if (re2SyntaxError(match) !== undefined) return undefined; // reported on the match field
  try {
    Re2.compile(match).substitution(rewrite);
    return undefined;
  } catch (err) {
    if (err instanceof Re2SyntaxError) return err.message;
    throw err;
  }
}
