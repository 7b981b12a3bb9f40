/**
 * Envoy's upgrade configuration: which `Upgrade` types an HttpConnectionManager carries
 * (`upgrade_configs`, Istio generates `[{upgrade_type: websocket}]`) and the per-route override
 * (RouteAction `upgrade_configs`). A type the HCM does not list is refused unless the route
 * enables it; a route entry decides for its route either way (Envoy's table in its "HTTP
 * upgrades" overview). A refused upgrade is answered 403 and the connection closes, as Envoy
 * does. Custom upgrade filter chains and CONNECT termination are not implemented: a NACK.
 */
import { fail } from '../core/errors.js';

/** upgrade type (lower-case) -> enabled */
export type UpgradeMap = ReadonlyMap<string, boolean>;

export const NO_UPGRADES: UpgradeMap = new Map();

/** HCM `upgrade_configs` (UpgradeConfig: upgrade_type, filters, enabled). */
export function parseHcmUpgrades(list: unknown): UpgradeMap {
  if (list === undefined || list === null) return NO_UPGRADES;
  if (!Array.isArray(list)) fail('HttpConnectionManager upgrade_configs: not a list');
  const out = new Map<string, boolean>();
  for (const [i, u] of (list as Array<Record<string, any>>).entries()) {
    const type = String(u?.upgrade_type ?? '').trim().toLowerCase();
    if (type === '') fail(`HttpConnectionManager upgrade_configs[${i}]: upgrade_type is required`);
    if (Array.isArray(u.filters) && u.filters.length > 0) fail(`HttpConnectionManager upgrade_configs[${i}] (${type}): custom upgrade filter chains are not supported`);
    if (out.has(type)) fail(`HttpConnectionManager upgrade_configs: duplicate upgrade_type ${type}`);
    out.set(type, u.enabled?.value !== false && u.enabled !== false);
  }
  return out;
}

/** RouteAction `upgrade_configs` (upgrade_type, enabled, connect_config); undefined when the route has none. */
export function parseRouteUpgrades(list: unknown, routeName: string): UpgradeMap | undefined {
  if (list === undefined || list === null || (Array.isArray(list) && list.length === 0)) return undefined;
  if (!Array.isArray(list)) fail(`route ${routeName}: upgrade_configs: not a list`);
  const out = new Map<string, boolean>();
  for (const [i, u] of (list as Array<Record<string, any>>).entries()) {
    const type = String(u?.upgrade_type ?? '').trim().toLowerCase();
    if (type === '') fail(`route ${routeName}: upgrade_configs[${i}]: upgrade_type is required`);
    if (u.connect_config !== undefined && u.connect_config !== null) fail(`route ${routeName}: upgrade_configs[${i}]: connect_config (CONNECT termination) is not supported`);
    if (out.has(type)) fail(`route ${routeName}: upgrade_configs: duplicate upgrade_type ${type}`);
    out.set(type, u.enabled?.value !== false && u.enabled !== false);
  }
  return out;
}

/** Whether an upgrade of `type` may go through: the route's entry when it has one, else the HCM's. */
export function upgradeEnabled(type: string, hcm: UpgradeMap, route: UpgradeMap | undefined): boolean {
  const r = route?.get(type);
  if (r !== undefined) return r;
  return hcm.get(type) === true;
}
