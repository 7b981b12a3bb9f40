/**
 * Envoy's HTTP connection manager path handling, applied to every request before routing (and
 * so before any filter that looks at the path):
 * - the fragment (`#...`) is dropped (Istio's runtime http_reject_path_with_fragment=false);
 * - `path_with_escaped_slashes_action`: `%2F`/`%2f` -> `/` and `%5C`/`%5c` -> `\`, then forward,
 *   redirect (307) or reject (400) when any was found; KEEP_UNCHANGED leaves them;
 * - `normalize_path`: RFC 3986 dot-segment removal with the URL canonicalization rules of the
 *   Chromium URL library Envoy uses: `\` is a `/`; `%XX` of an unreserved character (ALPHA,
 *   DIGIT, `-`, `.`, `_`, `~`) is decoded and kept escaped otherwise (as sent, hex case
 *   included); `%2e` counts as a dot; characters not allowed in a path (controls, space, `"`,
 *   `<`, `>`, `^`, `` ` ``, `{`, `|`, `}`, DEL, non-ASCII) are percent-encoded; `..` never
 *   climbs above the root; a NUL (raw or `%00`) rejects the request;
 * - `merge_slashes`: runs of `/` become one.
 * Order as Envoy: unescape slashes, canonicalize, merge. Only the path before `?` changes.
 *
 * Written for the hot path: one scan of the path decides whether anything applies; a typical
 * path is returned as it came.
 */

export type EscapedSlashesAction = 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

export interface PathNormalization {
  /** normalize_path */
  readonly normalize: boolean;
  /** merge_slashes */
  readonly mergeSlashes: boolean;
  readonly escapedSlashes: EscapedSlashesAction;
  /** ASCII characters that may need work under these options (pathNormalization() fills it) */
  readonly stops?: Uint8Array;
}

/** The options with their lookup table, built once per HCM config. */
export function pathNormalization(normalize: boolean, mergeSlashes: boolean, escapedSlashes: EscapedSlashesAction): PathNormalization {
  const stops = new Uint8Array(128);
  stops[PERCENT] = 1;
  if (normalize) for (let c = 0; c < 128; c++) if ((CLASS[c] & SPECIAL) !== 0) stops[c] = 1;
  if (mergeSlashes) stops[SLASH] = 1;
  return { normalize, mergeSlashes, escapedSlashes, stops };
}

/** What to do with the request after normalization. */
export const enum PathVerdict {
  Continue,
  /** 400 (invalid path, or an escaped slash under REJECT_REQUEST) */
  Reject,
  /** 307 to the normalized path (an escaped slash under UNESCAPE_AND_REDIRECT) */
  Redirect,
}

export interface NormalizedPath {
  path: string;
  verdict: PathVerdict;
}

// Character classes of the Chromium URL path canonicalizer (Envoy's source/common/chromium_url).
const PASS = 0;
const SPECIAL = 1;
const ESCAPE = 2 | SPECIAL;
const UNESCAPE = 4;
const INVALID = 8 | SPECIAL;

const CLASS = new Uint8Array(256).fill(ESCAPE); // controls, DEL and every non-ASCII byte: escape
CLASS[0] = INVALID;
for (let c = 0x21; c < 0x7f; c++) CLASS[c] = PASS;
for (const ch of ' "#%<>?\\^`{|}') CLASS[ch.charCodeAt(0)] = ESCAPE;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = UNESCAPE;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = UNESCAPE;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = UNESCAPE;
for (const ch of '-_~') CLASS[ch.charCodeAt(0)] = UNESCAPE;
CLASS[0x2e] = SPECIAL; // '.', handled as a dot

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const PERCENT = 0x25;
const HEX = '0123456789ABCDEF';

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The byte of `%XX` at i, or -1 when s[i] does not start a valid escape. */
function escapedAt(s: string, i: number, end: number): number {
  if (i + 3 > end || s.charCodeAt(i) !== PERCENT) return -1;
  const h = hexValue(s.charCodeAt(i + 1));
  const l = hexValue(s.charCodeAt(i + 2));
  return h < 0 || l < 0 ? -1 : h * 16 + l;
}

/** Length of the dot at i: 1 for '.', 3 for '%2e'/'%2E', else 0. */
function dotAt(s: string, i: number, end: number): number {
  const c = s.charCodeAt(i);
  if (c === DOT) return 1;
  if (c === PERCENT && i + 3 <= end && s.charCodeAt(i + 1) === 0x32 && (s.charCodeAt(i + 2) | 0x20) === 0x65) return 3;
  return 0;
}

const isSlash = (c: number): boolean => c === SLASH || c === BACKSLASH;

/**
 * True when the path (before `?`) may change under this configuration: escapes, backslashes,
 * dot segments, characters to escape, doubled slashes. Everything else returns the path as is.
 */
function needsWork(path: string, end: number, cfg: PathNormalization): boolean {
  const stops = cfg.stops ?? pathNormalization(cfg.normalize, cfg.mergeSlashes, cfg.escapedSlashes).stops!;
  const normalize = cfg.normalize;
  let prev = 0;
  for (let i = 0; i < end; i++) {
    const c = path.charCodeAt(i);
    if (c < 128) {
      // '.' and '/' matter only right after a '/' (a dot segment, a doubled slash)
      if (stops[c] !== 0 && ((c !== DOT && c !== SLASH) || prev === SLASH)) return true;
    } else if (normalize) return true;
    prev = c;
  }
  // a path not starting with '/' gets one when canonicalized
  return cfg.normalize && end > 0 && path.charCodeAt(0) !== SLASH;
}

/** %2F/%2f -> '/', %5C/%5c -> '\'. Returns the path unchanged when it has none. */
export function unescapeSlashes(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
}

function appendEscaped(out: string, c: number): string {
  if (c > 0xff) {
    // a code point from a decoded HTTP/2 header: its UTF-8 bytes
    for (const b of Buffer.from(String.fromCharCode(c), 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
    return out;
  }
  return `${out}%${HEX[c >> 4]}${HEX[c & 15]}`;
}

/** Drops the last segment of a canonical output ending in '/', never above the first slash. */
function backUpToPreviousSlash(out: string): string {
  let i = out.length - 1;
  if (i === 0) return out;
  i--;
  while (i > 0 && out.charCodeAt(i) !== SLASH) i--;
  return out.slice(0, i + 1);
}

/**
 * Chromium's URL path canonicalization (what Envoy's normalize_path runs). Returns undefined when
 * the path is invalid (a NUL, raw or escaped): the request is rejected.
 */
export function canonicalizePath(spec: string): string | undefined {
  const end = spec.length;
  let out = '';
  let ok = true;
  if (end === 0 || !isSlash(spec.charCodeAt(0))) out = '/';
  if (end === 0) return out;
  let lastInvalidPercent = -Infinity;
  for (let i = 0; i < end; i++) {
    const c = spec.charCodeAt(i);
    const cls = c > 0xff ? ESCAPE : CLASS[c];
    if ((cls & SPECIAL) === 0) {
      out += spec[i];
      continue;
    }
    const dotLen = dotAt(spec, i, end);
    if (dotLen > 0) {
      if (out.charCodeAt(out.length - 1) !== SLASH) {
        out += '.';
        i += dotLen - 1;
        continue;
      }
      // a dot right after a slash: '.', '..' or part of a name
      const after = i + dotLen;
      let consumed = 0;
      let kind: 'name' | 'cur' | 'up' = 'name';
      if (after === end) kind = 'cur';
      else if (isSlash(spec.charCodeAt(after))) {
        kind = 'cur';
        consumed = 1;
      } else {
        const second = dotAt(spec, after, end);
        if (second > 0) {
          const after2 = after + second;
          if (after2 === end) {
            kind = 'up';
            consumed = second;
          } else if (isSlash(spec.charCodeAt(after2))) {
            kind = 'up';
            consumed = second + 1;
          }
        }
      }
      if (kind === 'name') {
        out += '.';
        i += dotLen - 1;
      } else {
        if (kind === 'up') out = backUpToPreviousSlash(out);
        i += dotLen + consumed - 1;
      }
      continue;
    }
    if (c === BACKSLASH) {
      out += '/';
      continue;
    }
    if (c === PERCENT) {
      const v = escapedAt(spec, i, end);
      if (v < 0) {
        // not an escape: kept as a literal '%', remembered for the nested-escape check
        lastInvalidPercent = out.length;
        out += '%';
        continue;
      }
      const vcls = CLASS[v];
      if ((vcls & UNESCAPE) !== 0) {
        out += String.fromCharCode(v);
        if (lastInvalidPercent >= out.length - 3) out = fixNestedEscape(spec, i + 3, end, lastInvalidPercent, out);
      } else {
        out += spec.slice(i, i + 3);
        if (vcls === INVALID) ok = false;
      }
      i += 2;
      continue;
    }
    if (cls === INVALID) ok = false;
    out = appendEscaped(out, c);
  }
  return ok ? out : undefined;
}

/**
 * After decoding a character within two of an earlier literal '%': if the output now reads as a
 * valid escape (`%%30%30` -> `%00`), that '%' becomes `%25` so nobody decoding later sees a
 * different path than the one routed.
 */
function fixNestedEscape(spec: string, next: number, end: number, pct: number, out: string): string {
  const length = out.length;
  const last = out[length - 1];
  const appendNext = pct === length - 2;
  let probe = out;
  if (appendNext) {
    if (next === end || spec.charCodeAt(next) >= 0x80) return out;
    probe += spec[next];
  }
  if (escapedAt(probe, pct, probe.length) < 0) return out;
  // "%c<last>" or "%<last>" -> "%25c<last>" or "%25<last>"
  return appendNext ? `${out.slice(0, pct)}%25${last}` : `${out.slice(0, pct)}%25${out[pct + 1]}${last}`;
}

function mergeSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

/**
 * Applies the HCM's path options to a request path (with its query). The typical path (nothing
 * to do) comes back as the same string with Continue.
 */
export function normalizeRequestPath(url: string, cfg: PathNormalization | undefined, out: NormalizedPath): void {
  let full = url;
  const hash = full.indexOf('#');
  if (hash >= 0) full = full.slice(0, hash);
  out.verdict = PathVerdict.Continue;
  out.path = full;
  if (cfg === undefined || full.charCodeAt(0) !== SLASH) return; // '*' (OPTIONS) and authority-form stay as they are
  const q = full.indexOf('?');
  const end = q < 0 ? full.length : q;
  if (!needsWork(full, end, cfg)) return;
  let path = q < 0 ? full : full.slice(0, q);
  const query = q < 0 ? '' : full.slice(q);
  if (cfg.escapedSlashes !== 'KEEP_UNCHANGED') {
    const unescaped = unescapeSlashes(path);
    if (unescaped !== path) {
      if (cfg.escapedSlashes === 'REJECT_REQUEST') {
        out.verdict = PathVerdict.Reject;
        return;
      }
      if (cfg.escapedSlashes === 'UNESCAPE_AND_REDIRECT') out.verdict = PathVerdict.Redirect;
      path = unescaped;
    }
  }
  if (cfg.normalize) {
    const canonical = canonicalizePath(path);
    if (canonical === undefined) {
      out.verdict = PathVerdict.Reject;
      return;
    }
    path = canonical;
  }
  if (cfg.mergeSlashes) path = mergeSlashes(path);
  out.path = query ? path + query : path;
}
