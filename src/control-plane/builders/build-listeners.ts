/**
 * LDS: sidecar (virtualOutbound, per-port outbound, inbound), gateway, and proxyless gRPC
 * `api_listener`s for `<host>:<port>` names.
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { HCM_TYPE } from '../../xds/type-urls.js';
import type { PushContext } from '../push-context.js';
import { adsConfigSource, outboundTrafficMode } from './build-common.js';
import { faultFilter, routerFilter } from './build-http-filters.js';
import { gatewayListeners } from './build-listeners-gateway.js';
import { inboundListeners } from './build-listeners-inbound.js';
import { outboundListeners, virtualOutboundListener } from './build-listeners-outbound.js';
import { parseHostPortName } from './build-routes.js';
import { listenerTelemetry, type ListenerTelemetry } from './build-telemetry-filters.js';
import { applyEnvoyFilters } from './build-envoy-filter.js';

/** The Listener a proxyless gRPC client asks for when dialing `xds:///<name>`. */
export function apiListener(name: string): EnvoyResource {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        rds: { route_config_name: name, config_source: adsConfigSource() },
        // grpc-js-xds wants every filter named and the router last.
        http_filters: [faultFilter(), routerFilter()],
      },
    },
  };
}

/**
 * As Istio: when access logging is on, every listener logs the connections no filter chain takes
 * (a listener-level access_log filtered on response flag NR); requests log through their HCM.
 */
function withListenerAccessLog(listeners: EnvoyResource[], t: ListenerTelemetry): EnvoyResource[] {
  if (t.accessLog.length === 0) return listeners;
  const log = t.accessLog.map((e) => ({ ...e, filter: { response_flag_filter: { flags: ['NR'] } } }));
  for (const l of listeners) l.access_log = log;
  return listeners;
}

function proxyListeners(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  return applyEnvoyFilters(pc, proxy, builtListeners(pc, proxy));
}

function builtListeners(pc: PushContext, proxy: ProxyIdentity): EnvoyResource[] {
  if (proxy.type === 'router') return withListenerAccessLog(gatewayListeners(pc, proxy), listenerTelemetry(pc, proxy, 'gateway'));
  const outbound = listenerTelemetry(pc, proxy, 'outbound');
  const inbound = listenerTelemetry(pc, proxy, 'inbound');
  return [
    ...withListenerAccessLog([virtualOutboundListener(outbound, outboundTrafficMode(pc, proxy)), ...outboundListeners(pc, proxy, outbound)], outbound),
    ...withListenerAccessLog(inboundListeners(pc, proxy, inbound), inbound),
  ];
}

export function buildListeners(pc: PushContext, proxy: ProxyIdentity, names?: string[]): EnvoyResource[] {
  if (!names || names.length === 0) return proxyListeners(pc, proxy);
  const out: EnvoyResource[] = [];
  const rest: string[] = [];
  for (const name of names) {
    if (parseHostPortName(pc, proxy, name)) out.push(apiListener(name));
    else rest.push(name);
  }
  if (rest.length) {
    const wanted = new Set(rest);
    out.push(...proxyListeners(pc, proxy).filter((l) => wanted.has(l.name as string)));
  }
  return out;
}
