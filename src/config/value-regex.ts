/**
 * Regex checks for Istio `regex` string matches. Envoy compiles them with RE2 and our proxy with
 * JS RegExp, so a pattern must satisfy both: RE2 has no lookaround or backreferences.
 */

export function checkRegex(src: string): string | undefined {
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const next = src[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'invalid regex: backreferences are not supported (RE2 syntax)';
      i++;
      continue;
    }
    if (c === '(' && src[i + 1] === '?') {
      const rest = src.slice(i + 2, i + 4);
      if (rest.startsWith('=') || rest.startsWith('!') || rest === '<=' || rest === '<!') {
        return 'invalid regex: lookaround is not supported (RE2 syntax)';
      }
    }
  }
  try {
    new RegExp(src);
  } catch (err) {
    const text = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    return `invalid regex: ${text.charAt(0).toLowerCase()}${text.slice(1)}`;
  }
  return undefined;
}
