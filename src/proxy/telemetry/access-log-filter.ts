/**
 * Envoy's AccessLogFilter (config.accesslog.v3): which requests or connections an access log
 * writes. Compiled once per logger into a predicate over the finished StreamInfo. Extension
 * filters: the CEL ExpressionFilter (access-log-cel.ts, Istio's Telemetry filter.expression). A
 * filter kind this proxy does not implement (other extension filters, metadata, log type) rejects
 * the config with its name: a log that silently wrote every request instead of the filtered ones
 * would be wrong in volume and in what it records.
 */
import { CEL_EXPRESSION_FILTER_TYPE } from '../../xds/type-urls.js';
import { fail } from '../core/errors.js';
import type { ResponseFlag, StreamInfo } from '../core/stream-info.js';
import { compileHeaderMatcher } from '../core/string-matcher.js';
import { compileCelAccessLogFilter } from './access-log-cel.js';

export type AccessLogPredicate = (info: StreamInfo) => boolean;

type Obj = Record<string, any>;

/** ComparisonFilter: op EQ (default), GE, LE, NE against a RuntimeUInt32's default_value. */
function comparison(c: Obj | undefined, where: string): (v: number | undefined) => boolean {
  const op = String(c?.op ?? 'EQ');
  const raw = c?.value?.default_value;
  const value = raw === undefined ? 0 : Number(raw);
  if (!Number.isFinite(value)) fail(`${where}.comparison.value: not a number`);
  switch (op) {
    case 'EQ':
      return (v) => (v ?? 0) === value;
    case 'GE':
      return (v) => (v ?? 0) >= value;
    case 'LE':
      return (v) => (v ?? 0) <= value;
    case 'NE':
      return (v) => (v ?? 0) !== value;
    default:
      fail(`${where}.comparison.op: unknown operator ${op}`);
  }
}

/** FractionalPercent → [0, 1] */
function fraction(p: Obj | undefined): number {
  const n = Number(p?.numerator ?? 0);
  const d = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 }[String(p?.denominator ?? 'HUNDRED')] ?? 100;
  return Math.min(1, Math.max(0, n / d));
}

const GRPC_STATUS: Record<string, number> = {
  OK: 0, CANCELED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/**
 * Compiles one AccessLogFilter; `where` names it in errors (e.g. `access_log[0].filter`).
 * `random` is the sampling source of runtime_filter.
 */
export function compileAccessLogFilter(f: Obj, where: string, random: () => number = Math.random): AccessLogPredicate {
  const kinds = Object.keys(f).filter((k) => f[k] !== undefined && f[k] !== null);
  if (kinds.length !== 1) fail(`${where}: exactly one filter kind expected, got ${kinds.length ? kinds.join(', ') : 'none'}`);
  const kind = kinds[0];
  const v = f[kind] as Obj;
  const at = `${where}.${kind}`;
  switch (kind) {
    case 'status_code_filter': {
      const cmp = comparison(v.comparison, at);
      return (i) => cmp(i.responseCode ?? 0);
    }
    case 'duration_filter': {
      const cmp = comparison(v.comparison, at);
      return (i) => cmp(Math.floor(i.durationMs ?? 0));
    }
    case 'not_health_check_filter':
      // Envoy's health-check filter marks such requests; this proxy has no health-check filter,
      // so no request is a health check
      return () => true;
    case 'traceable_filter':
      // traced: a sampled request carries x-b3-sampled / traceparent with the sampled flag
      return (i) => {
        const h = i.requestHeaders ?? {};
        const b3 = h['x-b3-sampled'];
        if (b3 !== undefined) return String(b3) === '1' || String(b3) === 'true';
        const tp = h.traceparent;
        return typeof tp === 'string' && /-01$/.test(tp);
      };
    case 'runtime_filter': {
      // no runtime overrides here: the default percent_sampled applies
      const p = v.percent_sampled ? fraction(v.percent_sampled) : 0;
      return () => random() < p;
    }
    case 'and_filter':
    case 'or_filter': {
      const list = (Array.isArray(v.filters) ? v.filters : []) as Obj[];
      if (list.length < 2) fail(`${at}.filters: at least two filters expected`);
      const preds = list.map((x, n) => compileAccessLogFilter(x, `${at}.filters[${n}]`, random));
      return kind === 'and_filter' ? (i) => preds.every((p) => p(i)) : (i) => preds.some((p) => p(i));
    }
    case 'header_filter': {
      if (!v.header) fail(`${at}.header: required`);
      const m = compileHeaderMatcher(v.header);
      return (i) => m.test(i.requestHeaders ?? {});
    }
    case 'response_flag_filter': {
      const flags = (Array.isArray(v.flags) ? v.flags : []).map(String) as ResponseFlag[];
      // no flags listed: any flag
      return flags.length === 0 ? (i) => i.responseFlags.size > 0 : (i) => flags.some((fl) => i.responseFlags.has(fl));
    }
    case 'grpc_status_filter': {
      const statuses = (Array.isArray(v.statuses) ? v.statuses : []).map((s: unknown) => {
        const n = typeof s === 'number' ? s : GRPC_STATUS[String(s)];
        if (n === undefined) fail(`${at}.statuses: unknown status ${String(s)}`);
        return n;
      });
      const exclude = v.exclude === true;
      // a response without a gRPC status has none of the listed ones
      return (i) => (i.grpcStatus !== undefined && statuses.includes(i.grpcStatus)) !== exclude;
    }
    case 'extension_filter': {
      const tc = v.typed_config as Obj | undefined;
      const type = String(tc?.['@type'] ?? '');
      // the type decides (Envoy finds the factory by type URL); the name is informational
      if (type === CEL_EXPRESSION_FILTER_TYPE) return compileCelAccessLogFilter(tc!, `${at}.typed_config`);
      fail(`${at} ${String(v.name ?? '')}: extension filter ${type || '(no type)'} not implemented by this proxy`);
    }
    default:
      fail(`${at}: access log filter not implemented by this proxy`);
  }
}
