/**
 * envoy.filters.network.rbac: the same engine on a connection, before the chain's terminal (TCP
 * proxy or HCM) takes it. Only connection facts count (peer principal, source and destination
 * address and port, SNI); header, path and metadata rules never match here. A denial closes the
 * connection without a reply; %CONNECTION_TERMINATION_DETAILS% is
 * `rbac_access_denied_matched_policy[<policy>|none]`. Counters `<stat_prefix>rbac.{allowed,
 * denied,shadow_allowed,shadow_denied}` (Istio's stat_prefix is `tcp.`).
 */
import { NETWORK_RBAC_TYPE } from '../../../xds/type-urls.js';
import { fail } from '../../core/errors.js';
import type { NetworkFilter, NetworkFilterCallbacks, NetworkFilterConfig, NetworkFilterFactory, NetworkParseContext, NetworkFilterStatus } from '../../filter-api/network-filter.js';
import { compileRbac, evaluateRbac } from './rbac-engine.js';

const KNOWN = new Set(['@type', 'rules', 'shadow_rules', 'stat_prefix', 'shadow_rules_stat_prefix', 'enforcement_type']);

export function parseNetworkRbac(c: Record<string, any>, name: string, ctx: NetworkParseContext): NetworkFilterConfig {
  const where = name || 'envoy.filters.network.rbac';
  for (const k of Object.keys(c)) if (!KNOWN.has(k) && c[k] !== undefined) fail(`${where}: ${k} is not implemented by this proxy`);
  const enforcement = String(c.enforcement_type ?? 'ONE_TIME_ON_FIRST_BYTE');
  if (enforcement !== 'ONE_TIME_ON_FIRST_BYTE') fail(`${where}.enforcement_type: ${enforcement} is not implemented by this proxy`);
  if (typeof c.stat_prefix !== 'string' || c.stat_prefix === '') fail(`${where}.stat_prefix: required`);
  const rules = c.rules ? compileRbac(c.rules, `${where}.rules`) : undefined;
  const shadow = c.shadow_rules ? compileRbac(c.shadow_rules, `${where}.shadow_rules`) : undefined;
  const shadowPrefix = String(c.shadow_rules_stat_prefix ?? '');
  const s = ctx.telemetry?.stats.scope(`${c.stat_prefix}rbac.`);
  const allowed = rules ? s?.counter('allowed') : undefined;
  const denied = rules ? s?.counter('denied') : undefined;
  const shadowAllowed = shadow ? s?.counter(`${shadowPrefix}shadow_allowed`) : undefined;
  const shadowDenied = shadow ? s?.counter(`${shadowPrefix}shadow_denied`) : undefined;
  const filter: NetworkFilter = {
    onNewConnection(cb: NetworkFilterCallbacks): NetworkFilterStatus {
      const input = { conn: cb.conn };
      if (shadow !== undefined) (evaluateRbac(shadow, input).allowed ? shadowAllowed : shadowDenied)?.inc();
      if (rules === undefined) return 'continue';
      const r = evaluateRbac(rules, input);
      if (r.allowed) {
        allowed?.inc();
        return 'continue';
      }
      denied?.inc();
      cb.close(`rbac_access_denied_matched_policy[${r.matched ?? 'none'}]`);
      return 'stop';
    },
  };
  return { name, create: () => filter };
}

export const networkRbacFactory: NetworkFilterFactory = {
  typeUrls: [NETWORK_RBAC_TYPE],
  parse: parseNetworkRbac,
};
