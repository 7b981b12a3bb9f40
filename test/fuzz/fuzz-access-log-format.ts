/**
 * Fuzz target: the access-log format parser (src/proxy/telemetry/access-log-format.ts), which
 * takes format strings from mesh config and Telemetry resources and formats every request.
 * Formats come from a grammar of Envoy's command operators (known and unknown commands, header
 * arguments with alternatives, lengths, START_TIME strftime formats) mixed with literal text and
 * stray `%`, `(`, `)`, `:`; JSON formats use arbitrary keys (`__proto__` included). Properties:
 * - compiling either succeeds or throws AccessLogFormatError;
 * - a compiled formatter formats any request (random StreamInfo, odd header values) without
 *   throwing; text output keeps every literal piece, `:N` truncates to at most N characters;
 * - a JSON format's output is one line of valid JSON with exactly the keys of the spec.
 *
 *   node dist/test/fuzz/fuzz-access-log-format.js --minutes 10 [--seed N]
 */
import fc from 'fast-check';
import { AccessLogFormatError, compileJsonFormat, compileTextFormat, type Formatter } from '../../src/proxy/telemetry/access-log-format.js';
import { newStreamInfo, type StreamInfo } from '../../src/proxy/core/stream-info.js';
import { fuzzMain, isMain, type FuzzTarget } from './fuzz-runner.js';

const COMMANDS = [
  'START_TIME', 'REQ', 'RESP', 'TRAILER', 'PROTOCOL', 'RESPONSE_CODE', 'RESPONSE_FLAGS', 'RESPONSE_CODE_DETAILS', 'BYTES_RECEIVED',
  'BYTES_SENT', 'DURATION', 'UPSTREAM_HOST', 'UPSTREAM_CLUSTER', 'DOWNSTREAM_REMOTE_ADDRESS', 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT',
  'ROUTE_NAME', 'GRPC_STATUS', 'HOSTNAME', 'ENVIRONMENT', 'UPSTREAM_TRANSPORT_FAILURE_REASON', 'NOT_A_COMMAND', 'req', 'A',
];
const HEADERS = [':METHOD', ':PATH', ':AUTHORITY', 'X-ENVOY-ORIGINAL-PATH?:PATH', 'USER-AGENT', 'x-request-id', '', '?', 'A?B', ' host ', 'traceparent'];
const TIME = ['', '%Y-%m-%dT%H:%M:%S.%3fZ', '%s', '%f', '%9f', '%e %b %a %j %z', '%%', '%', '%Q', '%1f%2f%3f%4f%5f%6f%7f%8f%9f', '%s%3f'];
const LITERALS = ['[', ']', ' ', '"', '-', 'x', '\n', '%%', '(', ')', ':', 'é', '\\', '{}'];

const command: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom(...COMMANDS),
    fc.oneof(fc.constant(undefined), fc.constantFrom(...HEADERS), fc.constantFrom(...TIME), fc.string({ maxLength: 6 })),
    fc.oneof(fc.constant(''), fc.nat(40).map((n) => `:${n}`), fc.constant(':99999999999999999999')),
  )
  .map(([name, arg, len]) => `%${name}${arg === undefined ? '' : `(${arg})`}${len}%`);

const format: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.oneof(command, fc.constantFrom(...LITERALS), fc.string({ maxLength: 4 })), { maxLength: 8 }).map((ps) => ps.join('')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

const headerValue = fc.oneof(fc.string({ maxLength: 12 }), fc.constant(undefined), fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }));

const streamInfo: fc.Arbitrary<StreamInfo> = fc
  .record({
    direction: fc.constantFrom('inbound' as const, 'outbound' as const),
    protocol: fc.constantFrom('HTTP/1.1', 'HTTP/2', 'TCP', ''),
    method: fc.option(fc.constantFrom('GET', 'POST', ''), { nil: undefined }),
    path: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    authority: fc.option(fc.constantFrom('a:80', '[::1]:8080', ':', 'x'), { nil: undefined }),
    responseCode: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
    grpcStatus: fc.option(fc.integer({ min: -1, max: 40 }), { nil: undefined }),
    durationMs: fc.option(fc.double({ min: -1, max: 1e9, noNaN: false }), { nil: undefined }),
    // a real start time is Date.now(): any valid Date, never NaN
    startTime: fc.oneof(fc.integer({ min: 0, max: 4102444800000 }), fc.constant(-1)),
    downstreamRemoteAddress: fc.option(fc.constantFrom('127.0.0.1:1', '[::1]:2', 'x', ''), { nil: undefined }),
    headers: fc.dictionary(fc.constantFrom('user-agent', 'x-request-id', ':path', 'host', 'a', 'b', 'x-envoy-original-path'), headerValue),
    flags: fc.subarray(['UH', 'UF', 'NR', 'DC', 'URX']),
  })
  .map((r) => {
    const info = newStreamInfo(r.direction, r.protocol);
    Object.assign(info, {
      method: r.method, path: r.path, authority: r.authority, responseCode: r.responseCode, grpcStatus: r.grpcStatus,
      durationMs: r.durationMs, startTime: r.startTime, downstreamRemoteAddress: r.downstreamRemoteAddress,
      requestHeaders: r.headers, responseHeaders: r.headers,
    });
    for (const f of r.flags) info.responseFlags.add(f as never);
    return info;
  });

export type LogInput = { kind: 'text'; format: string; infos: StreamInfo[] } | { kind: 'json'; spec: Record<string, string>; infos: StreamInfo[] };

const jsonSpec = fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')), format, { maxKeys: 5 });

export const ACCESS_LOG_TARGET: FuzzTarget<LogInput> = {
  name: 'access-log-format',
  arbitrary: fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('text' as const), format, infos: fc.array(streamInfo, { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), spec: jsonSpec, infos: fc.array(streamInfo, { minLength: 1, maxLength: 3 }) }) },
  ),
  fromCorpus: (v) => {
    const c = v as { format?: string; json?: Record<string, string> };
    const infos = [newStreamInfo('outbound', 'HTTP/1.1')];
    return c.json !== undefined ? { kind: 'json', spec: c.json, infos } : { kind: 'text', format: c.format ?? '', infos };
  },
  check: checkLogInput,
};

function compile<T>(what: string, f: () => T): T | undefined {
  try {
    return f();
  } catch (err) {
    if (err instanceof AccessLogFormatError) return undefined;
    throw new Error(`${what}: threw ${String(err)}`);
  }
}

export function checkLogInput(input: LogInput): void {
  if (input.kind === 'text') {
    const f: Formatter | undefined = compile(JSON.stringify(input.format), () => compileTextFormat(input.format));
    if (!f) return;
    // literal text (no '%') survives formatting in order
    const literals = input.format.split(/%[A-Z][A-Z0-9_]*(?:\([^)]*\))?(?::\d+)?%/).filter(Boolean);
    for (const info of input.infos) {
      const out = f(info);
      if (typeof out !== 'string') throw new Error(`${JSON.stringify(input.format)}: not a string`);
      let at = 0;
      for (const l of literals) {
        const i = out.indexOf(l, at);
        if (i < 0) throw new Error(`${JSON.stringify(input.format)}: literal ${JSON.stringify(l)} missing from ${JSON.stringify(out)}`);
        at = i + l.length;
      }
    }
    // a length bound holds for a lone command
    const m = /^%([A-Z][A-Z0-9_]*)(\([^)]*\))?:(\d+)%$/.exec(input.format);
    if (m && Number(m[3]) > 0) {
      for (const info of input.infos) {
        const out = f(info);
        if (out.length > Number(m[3]) && out !== '-') throw new Error(`${input.format} gave ${out.length} characters`);
      }
    }
    return;
  }
  const f = compile(JSON.stringify(input.spec), () => compileJsonFormat(input.spec));
  if (!f) return;
  for (const info of input.infos) {
    const line = f(info);
    if (!line.endsWith('\n') || line.indexOf('\n') !== line.length - 1) throw new Error(`JSON log ${JSON.stringify(line)} is not one line`);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    const want = Object.keys(input.spec).sort();
    const got = Object.keys(parsed).sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) throw new Error(`JSON log keys ${JSON.stringify(got)} for spec keys ${JSON.stringify(want)}`);
  }
}

if (isMain(import.meta.url)) fuzzMain(ACCESS_LOG_TARGET);
