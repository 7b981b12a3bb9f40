/**
 * `clew load` options: fortio's single-dash long flags mapped to commander's long form, and the
 * parsed, validated option set the runner takes.
 */
import { parseDurationMs } from '../xds/codec.js';

export class LoadUsageError extends Error {
  readonly code = 'CLEW_LOAD_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'LoadUsageError';
  }
}

export interface LoadOptions {
  url: string;
  /** Concurrent workers, each with its own keep-alive connection (fortio -c). */
  connections: number;
  /** Target total queries per second across workers; 0 = as fast as possible. */
  qps: number;
  /** Exact total number of calls (fortio -n); wins over durationMs. */
  requests?: number;
  /** Run duration when `requests` is not set (fortio -t). */
  durationMs?: number;
  headers: Array<[string, string]>;
  /** HTTP forward proxy URL: requests go there in absolute form. */
  proxy?: string;
  /** Per-request timeout (connect, headers, body idle). */
  timeoutMs: number;
}

/** fortio's defaults: 4 connections, 8 qps, 5 s, 3 s timeout. */
export const LOAD_DEFAULTS = { connections: 4, qps: 8, durationMs: 5000, timeoutMs: 3000 } as const;

/** Long options that fortio spells with one dash. */
const SINGLE_DASH_LONG = new Set(['qps', 'curl', 'json', 'timeout', 'proxy', 'loglevel', 'connections']);

/**
 * Rewrites fortio-style arguments so commander can parse them: `-qps 0` -> `--qps 0`,
 * `-json -` -> `--json` (stdout is the only JSON target), `-loglevel X` -> `--loglevel X`.
 */
export function normalizeLoadArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^-([a-z][a-z-]+)(=.*)?$/.exec(arg);
    const name = m && SINGLE_DASH_LONG.has(m[1]) ? m[1] : undefined;
    const long = name ? `--${name}${m![2] ?? ''}` : arg;
    out.push(long);
    if ((long === '--json') && argv[i + 1] === '-') i++;
  }
  return out;
}

export function parseLoadDuration(text: string, what: string): number {
  const trimmed = text.trim();
  // Bare numbers are seconds, as in fortio's flag parsing of plain values.
  const ms = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : parseDurationMs(trimmed);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) throw new LoadUsageError(`invalid ${what}: ${text}`);
  return ms;
}

function parseCount(text: string, what: string, min: number): number {
  if (!/^\d+$/.test(text.trim())) throw new LoadUsageError(`invalid ${what}: ${text}`);
  const n = Number(text);
  if (n < min) throw new LoadUsageError(`${what} must be at least ${min}: ${text}`);
  return n;
}

export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new LoadUsageError(`invalid header (want 'Name: value'): ${text}`);
  const name = text.slice(0, colon).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new LoadUsageError(`invalid header name: ${name}`);
  return [name, text.slice(colon + 1).trim()];
}

export interface RawLoadFlags {
  connections?: string;
  qps?: string;
  n?: string;
  t?: string;
  header?: string[];
  proxy?: string;
  timeout?: string;
}

/** Validates the raw flag strings; `envProxy` is HTTP_PROXY when --proxy is absent. */
export function buildLoadOptions(url: string | undefined, flags: RawLoadFlags, envProxy?: string): LoadOptions {
  if (!url) throw new LoadUsageError('missing URL (clew load [flags] URL)');
  let parsed: URL;
  try {
    parsed = new URL(url.includes('://') ? url : `http://${url}`);
  } catch {
    throw new LoadUsageError(`invalid URL: ${url}`);
  }
  if (parsed.protocol !== 'http:') throw new LoadUsageError(`only http:// URLs are supported: ${url}`);
  const qps = flags.qps === undefined ? LOAD_DEFAULTS.qps : Number(flags.qps);
  if (!Number.isFinite(qps) || qps < 0) throw new LoadUsageError(`invalid qps: ${flags.qps}`);
  const opts: LoadOptions = {
    url: parsed.href,
    connections: flags.connections === undefined ? LOAD_DEFAULTS.connections : parseCount(flags.connections, 'connections', 1),
    qps,
    headers: (flags.header ?? []).map(parseHeader),
    timeoutMs: flags.timeout === undefined ? LOAD_DEFAULTS.timeoutMs : parseLoadDuration(flags.timeout, 'timeout'),
  };
  if (opts.timeoutMs <= 0) throw new LoadUsageError('timeout must be positive');
  if (flags.n !== undefined) opts.requests = parseCount(flags.n, 'number of calls (-n)', 1);
  else opts.durationMs = flags.t === undefined ? LOAD_DEFAULTS.durationMs : parseLoadDuration(flags.t, 'duration (-t)');
  const proxy = flags.proxy ?? envProxy;
  if (proxy) {
    let p: URL;
    try {
      p = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
    } catch {
      throw new LoadUsageError(`invalid proxy URL: ${proxy}`);
    }
    if (p.protocol !== 'http:') throw new LoadUsageError(`only http:// proxies are supported: ${proxy}`);
    opts.proxy = p.origin;
  }
  return opts;
}
