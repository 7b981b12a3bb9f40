/**
 * Envoy's CEL access-log filter (`envoy.access_loggers.extension_filters.cel`, config
 * `envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter`): the expression is compiled
 * once per config; per finished request it is evaluated over Envoy's attributes built from the
 * StreamInfo. As in Envoy, the request is logged only when the value is `true`: an evaluation
 * error (a missing header or attribute is CEL's "no such key") or a non-bool value means no log.
 *
 * Attributes (Envoy's names; only those StreamInfo knows, the others are missing keys):
 *   request.{path, url_path, query, host, scheme, method, headers, referer, useragent, time, id,
 *            protocol, size, duration}
 *   response.{code, code_details, flags, grpc_status, headers, trailers, size}
 *   connection.{mtls, requested_server_name, termination_details}
 *   source.{address, port}  destination.{address, port}
 *   upstream.{address, port, local_address, transport_failure_reason, request_attempt_count}
 *   xds.{cluster_name, route_name, listener_direction}
 * Integers are CEL ints (bigint), request.time a timestamp, request.duration a duration.
 */
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import {
  compileCelExpression, ENVOY_CEL_ROOTS, type CelActivation, type CelProgram, type EnvoyCelRoot,
} from '../../xds/cel-expression.js';
import { fail } from '../core/errors.js';
import type { ResponseFlag, StreamInfo } from '../core/stream-info.js';

/** Envoy's response-flag bits (the bit vector `response.flags` is) */
const FLAG_BITS: Record<ResponseFlag, number> = {
  LH: 0x1, UH: 0x2, UT: 0x4, LR: 0x8, UR: 0x10, UF: 0x20, UC: 0x40, UO: 0x80, NR: 0x100, DI: 0x200, FI: 0x400,
  RL: 0x800, UAEX: 0x1000, RLSE: 0x2000, DC: 0x4000, URX: 0x8000, SI: 0x10000, IH: 0x20000, DPE: 0x40000,
  UMSDR: 0x80000, DT: 0x400000, UPE: 0x800000, NC: 0x1000000, DF: 0x4000000, DR: 0x10000000,
};

export function responseFlagBits(flags: ReadonlySet<ResponseFlag>): number {
  let bits = 0;
  for (const f of flags) bits |= FLAG_BITS[f] ?? 0;
  return bits;
}

type HeaderMap = Record<string, string | string[] | undefined> | undefined;

/** A header map as CEL's map<string, string>: repeated values joined with ',' as Envoy does. */
function celHeaders(h: HeaderMap): Record<string, string> | undefined {
  if (!h) return undefined;
  // the common case (one string per name, a plain object) is used as it is
  if (Object.getPrototypeOf(h) === Object.prototype) {
    let plain = true;
    for (const k in h) {
      if (typeof h[k] !== 'string') {
        plain = false;
        break;
      }
    }
    if (plain) return h as Record<string, string>;
  }
  const out: Record<string, string> = {};
  for (const k of Object.keys(h)) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v)) out[k] = v.join(',');
  }
  return out;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** `ip:port` / `[v6]:port` → port as a CEL int */
function portOf(address: string | undefined): bigint | undefined {
  if (!address) return undefined;
  const i = address.lastIndexOf(':');
  if (i < 0) return undefined;
  const n = Number(address.slice(i + 1));
  return Number.isInteger(n) && n > 0 ? BigInt(n) : undefined;
}

/** Sets only defined values: an absent attribute must be a missing key, not null. */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  if (v !== undefined && v !== null) o[k] = v;
}

function int(n: number | undefined): bigint | undefined {
  return n === undefined || !Number.isFinite(n) ? undefined : BigInt(Math.trunc(n));
}

function requestAttrs(i: StreamInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const h = i.requestHeaders;
  const path = i.path ?? first(h?.[':path']);
  put(o, 'path', path);
  if (path !== undefined) {
    const q = path.indexOf('?');
    put(o, 'url_path', q < 0 ? path : path.slice(0, q));
    if (q >= 0) put(o, 'query', path.slice(q + 1));
  }
  put(o, 'host', i.authority ?? first(h?.[':authority']) ?? first(h?.host));
  put(o, 'scheme', first(h?.[':scheme']) ?? first(h?.['x-forwarded-proto']) ?? 'http');
  put(o, 'method', i.method ?? first(h?.[':method']));
  put(o, 'headers', celHeaders(h));
  put(o, 'referer', first(h?.referer));
  put(o, 'useragent', first(h?.['user-agent']));
  put(o, 'time', new Date(i.startTime));
  put(o, 'id', i.requestId ?? first(h?.['x-request-id']));
  if (i.protocol !== 'TCP') put(o, 'protocol', i.protocol);
  put(o, 'size', BigInt(i.bytesReceived));
  if (i.durationMs !== undefined && Number.isFinite(i.durationMs)) o.duration = Duration.fromMilliseconds(i.durationMs);
  return o;
}

function responseAttrs(i: StreamInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  put(o, 'code', int(i.responseCode));
  put(o, 'code_details', i.responseCodeDetails);
  put(o, 'flags', BigInt(responseFlagBits(i.responseFlags)));
  put(o, 'grpc_status', int(i.grpcStatus));
  put(o, 'headers', celHeaders(i.responseHeaders));
  put(o, 'trailers', celHeaders(i.responseTrailers));
  put(o, 'size', BigInt(i.bytesSent));
  return o;
}

function connectionAttrs(i: StreamInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  // mTLS on the downstream connection: an inbound sidecar that terminated ISTIO_MUTUAL; the
  // outbound side's downstream is the local app over plaintext
  if (i.connectionSecurityPolicy !== undefined || i.direction === 'outbound') {
    o.mtls = i.connectionSecurityPolicy === 'mutual_tls';
  }
  put(o, 'requested_server_name', i.requestedServerName);
  put(o, 'termination_details', i.connectionTerminationDetails);
  return o;
}

function addressAttrs(address: string | undefined): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  put(o, 'address', address);
  put(o, 'port', portOf(address));
  return o;
}

function upstreamAttrs(i: StreamInfo): Record<string, unknown> {
  const o = addressAttrs(i.upstreamHost);
  put(o, 'local_address', i.upstreamLocalAddress);
  put(o, 'transport_failure_reason', i.upstreamTransportFailureReason);
  if (i.attemptCount !== undefined) o.request_attempt_count = new UnsignedInt(BigInt(i.attemptCount));
  return o;
}

function xdsAttrs(i: StreamInfo): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  put(o, 'cluster_name', i.upstreamCluster);
  put(o, 'route_name', i.routeName);
  o.listener_direction = i.direction === 'inbound' ? 1n : 2n; // envoy.config.core.v3.TrafficDirection
  return o;
}

const EMPTY: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

type AttrBuilder = (i: StreamInfo) => Record<string, unknown>;

const BUILDERS: Record<EnvoyCelRoot, AttrBuilder> = {
  request: requestAttrs,
  response: responseAttrs,
  connection: connectionAttrs,
  upstream: upstreamAttrs,
  source: (i) => addressAttrs(i.downstreamRemoteAddress),
  destination: (i) => addressAttrs(i.downstreamLocalAddress),
  xds: xdsAttrs,
  // dynamic metadata and filter state are not exposed: their keys are missing
  metadata: () => EMPTY,
  filter_state: () => EMPTY,
  upstream_filter_state: () => EMPTY,
};

/**
 * The attributes of one finished request, for the top-level names in `roots` (by default all):
 * an expression over response.code never copies the request headers.
 */
export function celActivation(i: StreamInfo, roots: readonly EnvoyCelRoot[] = ENVOY_CEL_ROOTS): CelActivation {
  const a: CelActivation = {};
  for (const r of roots) a[r] = BUILDERS[r](i);
  return a;
}

/**
 * Compiles an ExpressionFilter config (`{expression}`) into a predicate; `where` names it in the
 * error of an expression that does not compile (the config is then rejected: NACK).
 */
export function compileCelAccessLogFilter(config: Record<string, unknown>, where: string): (info: StreamInfo) => boolean {
  const expression = config.expression;
  if (typeof expression !== 'string') fail(`${where}.expression: required`);
  const compiled = compileCelExpression(expression);
  if ('error' in compiled) fail(`${where}.expression: ${compiled.error}`);
  const evaluate = celEvaluator(compiled);
  return (info) => evaluate(info) === true;
}

/**
 * A compiled expression as a function of the finished request: its value, or undefined on an
 * evaluation error (a header the request does not have, a missing attribute, no such overload).
 * Envoy's filter logs nothing then; Istio's stats tag is `unknown`.
 */
export function celEvaluator(compiled: { program: CelProgram; roots: readonly EnvoyCelRoot[] }): (info: StreamInfo) => unknown {
  const { program, roots } = compiled;
  return (info) => {
    const activation = celActivation(info, roots);
    // an evaluation error is an ordinary outcome here, and most of its cost would be the stack
    // trace, which nobody reads: none is captured
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return program(activation);
    } catch {
      return undefined;
    } finally {
      Error.stackTraceLimit = limit;
    }
  };
}
