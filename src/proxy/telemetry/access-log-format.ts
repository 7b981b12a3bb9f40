/**
 * Envoy access-log formats compiled once into a formatter: text format strings with command
 * operators (`%REQ(X-FOO?X-BAR):10%`) and JSON dictionaries (Envoy's json_format).
 * Unset or empty values print `-` in text and `null` in JSON; numeric operators stay numbers in
 * JSON when they are a key's whole value.
 */
import * as os from 'node:os';
import type { StreamInfo } from '../core/stream-info.js';
import { formatResponseFlags } from '../core/stream-info.js';
import { compileTimeFormat } from './access-log-time.js';
import { ISTIO_DEFAULT_JSON_FORMAT } from '../../xds/access-log-defaults.js';

/** Envoy's default format. */
export const ENVOY_DEFAULT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% ' +
  '%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% ' +
  '"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

export { ISTIO_DEFAULT_FORMAT, ISTIO_DEFAULT_JSON_FORMAT } from '../../xds/access-log-defaults.js';

export class AccessLogFormatError extends Error {
  readonly code = 'ACCESS_LOG_FORMAT';
  constructor(message: string) {
    super(message);
    this.name = 'AccessLogFormatError';
  }
}

type Value = string | number | undefined;
type Op = (info: StreamInfo) => Value;
type Headers = StreamInfo['requestHeaders'];

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function stripPort(a: string | undefined): string | undefined {
  if (!a) return a;
  if (a.startsWith('[')) return a.slice(0, a.indexOf(']') + 1);
  const c = a.lastIndexOf(':');
  return c > 0 && a.indexOf(':') === c ? a.slice(0, c) : a;
}

/** request-side pseudo headers come from StreamInfo fields when the engine set them */
function reqHeader(info: StreamInfo, name: string): string | undefined {
  switch (name) {
    case ':method':
      return info.method ?? first(info.requestHeaders?.[name]);
    case ':path':
      return info.path ?? first(info.requestHeaders?.[name]);
    case ':authority':
      return info.authority ?? first(info.requestHeaders?.[name]) ?? first(info.requestHeaders?.host);
    default:
      return first(info.requestHeaders?.[name]);
  }
}

function headerOp(kind: 'REQ' | 'RESP' | 'TRAILER', arg: string): Op {
  const [main, alt] = arg.toLowerCase().split('?').map((s) => s.trim());
  if (!main) throw new AccessLogFormatError(`%${kind}()% needs a header name`);
  if (kind === 'REQ') return (i) => reqHeader(i, main) || (alt ? reqHeader(i, alt) : undefined);
  const pick = (i: StreamInfo): Headers => (kind === 'RESP' ? i.responseHeaders : i.responseTrailers);
  return (i) => {
    const h = pick(i);
    return first(h?.[main]) || (alt ? first(h?.[alt]) : undefined);
  };
}

const GRPC_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists',
  'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented',
  'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];

const HOSTNAME = os.hostname();

const SIMPLE: Record<string, Op> = {
  PROTOCOL: (i) => (i.protocol === 'TCP' ? undefined : i.protocol),
  RESPONSE_CODE: (i) => i.responseCode ?? 0,
  RESPONSE_FLAGS: (i) => formatResponseFlags(i.responseFlags),
  RESPONSE_CODE_DETAILS: (i) => i.responseCodeDetails,
  CONNECTION_TERMINATION_DETAILS: (i) => i.connectionTerminationDetails,
  BYTES_RECEIVED: (i) => i.bytesReceived,
  BYTES_SENT: (i) => i.bytesSent,
  DURATION: (i) => (i.durationMs === undefined ? undefined : Math.floor(i.durationMs)),
  UPSTREAM_HOST: (i) => i.upstreamHost,
  UPSTREAM_CLUSTER: (i) => i.upstreamCluster,
  UPSTREAM_CLUSTER_RAW: (i) => i.upstreamCluster,
  UPSTREAM_LOCAL_ADDRESS: (i) => i.upstreamLocalAddress,
  UPSTREAM_TRANSPORT_FAILURE_REASON: (i) => i.upstreamTransportFailureReason,
  UPSTREAM_REQUEST_ATTEMPT_COUNT: (i) => i.attemptCount,
  DOWNSTREAM_REMOTE_ADDRESS: (i) => i.downstreamRemoteAddress,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (i) => i.downstreamRemoteAddress,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (i) => stripPort(i.downstreamRemoteAddress),
  DOWNSTREAM_LOCAL_ADDRESS: (i) => i.downstreamLocalAddress,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: (i) => stripPort(i.downstreamLocalAddress),
  ROUTE_NAME: (i) => i.routeName,
  REQUESTED_SERVER_NAME: (i) => i.requestedServerName,
  GRPC_STATUS: (i) => (i.grpcStatus === undefined ? undefined : (GRPC_NAMES[i.grpcStatus] ?? String(i.grpcStatus))),
  GRPC_STATUS_NUMBER: (i) => i.grpcStatus,
  HOSTNAME: () => HOSTNAME,
};

function compileOp(name: string, arg: string | undefined): Op {
  switch (name) {
    case 'START_TIME': {
      const f = compileTimeFormat(arg);
      return (i) => f(i.startTime);
    }
    case 'REQ':
    case 'RESP':
    case 'TRAILER':
      if (arg === undefined) throw new AccessLogFormatError(`%${name}% needs (header)`);
      return headerOp(name, arg);
    case 'ENVIRONMENT': {
      if (!arg) throw new AccessLogFormatError('%ENVIRONMENT% needs (NAME)');
      const v = process.env[arg];
      return () => v;
    }
  }
  const op = SIMPLE[name];
  if (!op || arg !== undefined) throw new AccessLogFormatError(`unknown access log command %${name}${arg === undefined ? '' : `(${arg})`}%`);
  return op;
}

type Piece = string | { op: Op; max?: number };

const OP_RE = /%([A-Z][A-Z0-9_]*)(?:\(([^)]*)\))?(?::(\d+))?%/y;

function parse(format: string): Piece[] {
  const pieces: Piece[] = [];
  let lit = '';
  let i = 0;
  while (i < format.length) {
    const c = format[i];
    if (c !== '%') {
      lit += c;
      i++;
      continue;
    }
    OP_RE.lastIndex = i;
    const m = OP_RE.exec(format);
    if (!m) throw new AccessLogFormatError(`malformed command at offset ${i} in access log format`);
    if (lit) pieces.push(lit);
    lit = '';
    pieces.push({ op: compileOp(m[1], m[2]), max: m[3] === undefined ? undefined : Number(m[3]) });
    i = OP_RE.lastIndex;
  }
  if (lit) pieces.push(lit);
  return pieces;
}

function text(v: Value, max: number | undefined): string {
  if (v === undefined || v === '') return '-';
  const s = typeof v === 'number' ? String(v) : v;
  return max !== undefined && s.length > max ? s.slice(0, max) : s;
}

export type Formatter = (info: StreamInfo) => string;

/** A text format string -> formatter. Throws AccessLogFormatError on unknown commands. */
export function compileTextFormat(format: string = ENVOY_DEFAULT_FORMAT): Formatter {
  const pieces = parse(format);
  return (info) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : text(p.op(info), p.max);
    return out;
  };
}

type JsonSpec = { [k: string]: string | JsonSpec };

function compileJsonValue(spec: string | JsonSpec): (info: StreamInfo) => unknown {
  if (typeof spec !== 'string') {
    const entries = Object.entries(spec).map(([k, v]) => [k, compileJsonValue(v)] as const);
    return (info) => {
      // no prototype: a key named `__proto__` is a key like any other (found by fuzzing)
      const o: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const [k, f] of entries) o[k] = f(info);
      return o;
    };
  }
  const pieces = parse(spec);
  if (pieces.length === 1 && typeof pieces[0] !== 'string') {
    const { op, max } = pieces[0];
    return (info) => {
      const v = op(info);
      if (v === undefined || v === '') return null;
      return typeof v === 'number' ? v : text(v, max);
    };
  }
  return (info) => {
    let out = '';
    for (const p of pieces) out += typeof p === 'string' ? p : text(p.op(info), p.max);
    return out;
  };
}

/** A JSON dictionary (key -> format string, nested objects allowed) -> one JSON line per entry. */
export function compileJsonFormat(spec: Readonly<JsonSpec> = ISTIO_DEFAULT_JSON_FORMAT): Formatter {
  const f = compileJsonValue(spec as JsonSpec);
  return (info) => JSON.stringify(f(info)) + '\n';
}
