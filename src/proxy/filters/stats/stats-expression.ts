/**
 * The attribute expressions of Istio's stats filter dimensions (Telemetry API tagOverrides
 * values), compiled once per config into a function of the finished StreamInfo. Istio evaluates
 * CEL. The common forms have direct readers (a string literal, or one attribute such as
 * `request.host`, `request.headers['x-user']`, `response.code`, `xds.cluster_name`); any other
 * expression is evaluated as CEL over Envoy's attributes (the access-log filter's evaluator):
 * `'x-user' in request.headers ? 'user' : 'anonymous'`, `request.url_path.startsWith('/api')`,
 * `string(response.code / 100) + 'xx'`. Its value becomes the tag as text; an evaluation error is
 * `unknown`. An expression that does not compile is `supported: false` and yields `unknown` (the
 * listener is not rejected for it).
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { compileCelExpression } from '../../../xds/cel-expression.js';
import type { StreamInfo } from '../../core/stream-info.js';
import { celEvaluator } from '../../telemetry/access-log-cel.js';

export interface CompiledExpression {
  /** a literal's value */
  value?: string;
  /** a per-stream attribute */
  expr?: (info: StreamInfo) => string;
  supported: boolean;
}

const UNKNOWN = 'unknown';

function text(v: string | string[] | number | undefined): string {
  if (v === undefined || v === '') return UNKNOWN;
  return Array.isArray(v) ? v.join(',') : String(v);
}

function urlPath(p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const q = p.indexOf('?');
  return q < 0 ? p : p.slice(0, q);
}

const ATTRIBUTES: Record<string, (i: StreamInfo) => string> = {
  'request.host': (i) => text(i.authority),
  'request.method': (i) => text(i.method),
  'request.path': (i) => text(i.path),
  'request.url_path': (i) => text(urlPath(i.path)),
  'request.scheme': (i) => text(i.requestHeaders?.['x-forwarded-proto'] ?? 'http'),
  'request.protocol': (i) => text(i.protocol),
  'request.useragent': (i) => text(i.requestHeaders?.['user-agent']),
  'request.referer': (i) => text(i.requestHeaders?.referer),
  'request.id': (i) => text(i.requestId),
  'response.code': (i) => text(i.responseCode),
  'response.code_details': (i) => text(i.responseCodeDetails),
  'response.grpc_status': (i) => text(i.grpcStatus),
  'response.flags': (i) => (i.responseFlags.size === 0 ? '-' : [...i.responseFlags].join(',')),
  'source.address': (i) => text(i.downstreamRemoteAddress),
  'destination.address': (i) => text(i.downstreamLocalAddress),
  'upstream.address': (i) => text(i.upstreamHost),
  'xds.cluster_name': (i) => text(i.upstreamCluster),
  'xds.route_name': (i) => text(i.routeName),
  'xds.listener_name': (i) => text(i.listenerName),
};

const LITERAL = /^(?:'([^'\\]*)'|"([^"\\]*)")$/;
const HEADER = /^(request|response)\.headers\[(?:'([^'\\]+)'|"([^"\\]+)")\]$/;

export function compileStatsExpression(source: string): CompiledExpression {
  const s = source.trim();
  const lit = LITERAL.exec(s);
  if (lit) return { value: lit[1] ?? lit[2], supported: true };
  const attr = ATTRIBUTES[s];
  if (attr) return { expr: attr, supported: true };
  const h = HEADER.exec(s);
  if (h) {
    const name = (h[2] ?? h[3]).toLowerCase();
    const side = h[1] === 'request' ? 'requestHeaders' : 'responseHeaders';
    return { expr: (i) => text(i[side]?.[name]), supported: true };
  }
  const cel = compileCelExpression(s, 'any');
  if ('error' in cel) return { value: UNKNOWN, supported: false };
  const evaluate = celEvaluator(cel);
  return { expr: (i) => tagText(evaluate(i)), supported: true };
}

/** A CEL value as a metric label: strings, numbers and bools as text; anything else `unknown`. */
function tagText(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v === '' ? UNKNOWN : v;
    case 'bigint':
    case 'number':
    case 'boolean':
      return String(v);
    case 'object':
      // a CEL uint prints as its digits; maps, lists, timestamps are not labels
      return v instanceof UnsignedInt ? String(v.value) : UNKNOWN;
    default:
      return UNKNOWN;
  }
}
