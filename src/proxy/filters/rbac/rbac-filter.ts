/**
 * envoy.filters.http.rbac: the request is checked once its headers are in (Envoy's decodeHeaders)
 * against `rules` (enforced) and `shadow_rules` (only recorded: Istio's dry run). A denial is a
 * local reply 403 `RBAC: access denied` (gRPC callers get PERMISSION_DENIED), with
 * %RESPONSE_CODE_DETAILS% `rbac_access_denied_matched_policy[<policy>|none]` and no response flag
 * (Envoy has none for RBAC). Counters `http.<stat_prefix>.rbac.{allowed,denied,shadow_allowed,
 * shadow_denied}` (with the rules' stat prefixes). The shadow result goes to dynamic metadata
 * `envoy.filters.http.rbac` (`shadow_effective_policy_id`, `shadow_engine_result`); a LOG (Istio AUDIT)
 * match sets `access_log_hint: true` in `envoy.common`, as Envoy does.
 */
import { RBAC_TYPE } from '../../../xds/type-urls.js';
import type { Counter, StatsStore } from '../../../stats/stats-store.js';
import { fail } from '../../core/errors.js';
import type { FilterHeadersStatus, HttpFilter, HttpFilterCallbacks, HttpFilterConfig, HttpFilterFactory, HttpFilterParseContext } from '../../filter-api/http-filter.js';
import { compileRbac, evaluateRbac, type RbacEngine, type RbacInput, type RbacResult } from './rbac-engine.js';

export const RBAC_FILTER_NAME = 'envoy.filters.http.rbac';
export const RBAC_DENIED_BODY = 'RBAC: access denied';
/** Envoy's shared dynamic-metadata namespace (`access_log_hint` of the LOG action, Istio's AUDIT) */
export const SHARED_METADATA_NAMESPACE = 'envoy.common';

const KNOWN = new Set(['@type', 'rules', 'shadow_rules', 'rules_stat_prefix', 'shadow_rules_stat_prefix']);

interface RbacCounters {
  allowed: Counter | undefined;
  denied: Counter | undefined;
  shadowAllowed: Counter | undefined;
  shadowDenied: Counter | undefined;
}

export function rbacInputOf(cb: HttpFilterCallbacks): RbacInput {
  return {
    conn: cb.conn,
    headers: cb.headers,
    method: cb.method,
    path: cb.path,
    authority: cb.authority,
    metadata: (ns) => cb.dynamicMetadata(ns),
  };
}

/**
 * The input of every HTTP RBAC evaluation: one object, refilled per call. An evaluation is
 * synchronous and no rule keeps its input, so requests never see each other's (and the object
 * keeps one shape: the rules' property loads stay monomorphic). Emptied after each call, so it
 * does not hold a finished stream.
 */
interface SharedInput extends RbacInput {
  cb: HttpFilterCallbacks | undefined;
}
const INPUT: SharedInput = {
  conn: undefined as unknown as RbacInput['conn'],
  headers: undefined,
  method: undefined,
  path: undefined,
  urlPath: undefined,
  authority: undefined,
  metadata: (ns) => INPUT.cb?.dynamicMetadata(ns),
  cb: undefined,
};

function fillInput(cb: HttpFilterCallbacks): RbacInput {
  INPUT.cb = cb;
  INPUT.conn = cb.conn;
  INPUT.headers = cb.headers;
  INPUT.method = cb.method;
  INPUT.path = cb.path;
  INPUT.urlPath = undefined;
  INPUT.authority = cb.authority;
  return INPUT;
}

function emptyInput(): void {
  INPUT.cb = undefined;
  INPUT.conn = undefined as unknown as RbacInput['conn'];
  INPUT.headers = undefined;
  INPUT.path = INPUT.urlPath = INPUT.method = INPUT.authority = undefined;
}

export class RbacFilterConfig implements HttpFilterConfig, HttpFilter {
  constructor(
    readonly name: string,
    readonly rules: RbacEngine | undefined,
    readonly shadow: RbacEngine | undefined,
    readonly shadowPrefix: string,
    private readonly counters: RbacCounters,
  ) {}

  /** stateless: one object serves every request */
  create(): HttpFilter {
    return this;
  }

  decodeHeaders(cb: HttpFilterCallbacks): FilterHeadersStatus {
    const input = fillInput(cb);
    let r: RbacResult | undefined;
    try {
      if (this.shadow !== undefined) {
        const s = evaluateRbac(this.shadow, input);
        (s.allowed ? this.counters.shadowAllowed : this.counters.shadowDenied)?.inc();
        const md: Record<string, unknown> = { [`${this.shadowPrefix}shadow_engine_result`]: s.allowed ? 'allowed' : 'denied' };
        if (s.matched !== undefined) md[`${this.shadowPrefix}shadow_effective_policy_id`] = s.matched;
        cb.setDynamicMetadata(RBAC_FILTER_NAME, md);
      }
      if (this.rules !== undefined) r = evaluateRbac(this.rules, input);
    } finally {
      emptyInput();
    }
    if (r === undefined) return 'continue';
    if (r.allowed) {
      this.counters.allowed?.inc();
      // Envoy's LOG action: the hint for access loggers lives in the shared namespace envoy.common
      if (this.rules!.action === 'LOG' && r.matched !== undefined) cb.setDynamicMetadata(SHARED_METADATA_NAMESPACE, { access_log_hint: true });
      return 'continue';
    }
    this.counters.denied?.inc();
    cb.sendLocalReply(403, RBAC_DENIED_BODY, undefined, { details: `rbac_access_denied_matched_policy[${r.matched ?? 'none'}]` });
    return 'stop';
  }
}

function counters(stats: StatsStore | undefined, scope: string, rulesPrefix: string, shadowPrefix: string, rules: boolean, shadow: boolean): RbacCounters {
  const s = stats?.scope(scope);
  return {
    allowed: rules ? s?.counter(`${rulesPrefix}allowed`) : undefined,
    denied: rules ? s?.counter(`${rulesPrefix}denied`) : undefined,
    shadowAllowed: shadow ? s?.counter(`${shadowPrefix}shadow_allowed`) : undefined,
    shadowDenied: shadow ? s?.counter(`${shadowPrefix}shadow_denied`) : undefined,
  };
}

export function parseRbacFilter(c: Record<string, any>, name: string, ctx: HttpFilterParseContext): RbacFilterConfig {
  const where = `${name || RBAC_FILTER_NAME}`;
  for (const k of Object.keys(c)) if (!KNOWN.has(k) && c[k] !== undefined) fail(`${where}: ${k} is not implemented by this proxy`);
  const rules = c.rules ? compileRbac(c.rules, `${where}.rules`) : undefined;
  const shadow = c.shadow_rules ? compileRbac(c.shadow_rules, `${where}.shadow_rules`) : undefined;
  const rulesPrefix = String(c.rules_stat_prefix ?? '');
  const shadowPrefix = String(c.shadow_rules_stat_prefix ?? '');
  const scope = `http.${ctx.statPrefix ?? ''}.rbac.`;
  return new RbacFilterConfig(name, rules, shadow, shadowPrefix, counters(ctx.stats, scope, rulesPrefix, shadowPrefix, rules !== undefined, shadow !== undefined));
}

export const rbacFilterFactory: HttpFilterFactory = {
  typeUrls: [RBAC_TYPE],
  perRouteTypeUrls: [],
  parse: parseRbacFilter,
};
