/**
 * Sidecar inbound listeners. REDIRECT/TPROXY: `virtualInbound` on 15006 with filter chains per
 * workload port. NONE (local mode): a listener per workload port bound to the workload's address.
 *
 * The chains of a port follow its PeerAuthentication mode (Istio's filterchain_options.go), the
 * TLS ones terminating Istio mTLS with the workload's own certificate (SDS `default`, trust SDS
 * `ROOTCA`, client certificate required):
 *  - PERMISSIVE, protocol sniffed: tls+istio-http ALPNs → HTTP; raw+http ALPNs → HTTP;
 *    tls+istio ALPNs → TCP; raw → TCP; other TLS → TCP passthrough (the app's own TLS)
 *  - PERMISSIVE, declared: tls+Istio ALPNs → mTLS; raw → plaintext; TCP ports also pass other TLS
 *  - STRICT: the tls chains only (no raw chain: plaintext finds no chain and is closed)
 *  - DISABLE: the raw chains only
 * A client without an identity (anonymous view) gets no inbound listener at all.
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PeerAuthentication, PeerAuthenticationSpec } from '../../config/types.js';
import { isHttpProtocol } from '../../registry/registry-protocol.js';
import { HTTP_INSPECTOR_TYPE, ORIGINAL_DST_LISTENER_FILTER_TYPE, TLS_INSPECTOR_TYPE } from '../../xds/type-urls.js';
import type { PushContext } from '../push-context.js';
import { INBOUND_PASSTHROUGH_CLUSTER, inboundClusterName, socketAddress } from './build-common.js';
import { pathNormalizationFields } from './build-path-normalization.js';
import { hcmFilter, routerFilter, tcpFilters } from './build-http-filters.js';
import type { ListenerTelemetry } from './build-telemetry-filters.js';
import { inboundPorts, type InboundPort } from './build-inbound-ports.js';
import { SNIFFED_HTTP_PROTOCOLS } from './build-listeners-outbound.js';
import { buildAuthzFilters, type AuthzFilters } from './build-authz.js';
import { effectivePeerAuthentication, mtlsModeForPort, type EffectiveMtlsMode } from './build-peer-authentication.js';
import {
  agentSecret, downstreamTlsSocket, envoyTlsVersion, ISTIO_CIPHERS, MTLS_HTTP_ALPNS, MTLS_TCP_ALPNS, SDS_DEFAULT, SDS_ROOTCA,
  SERVER_ALPN_HTTP, SERVER_ALPN_TCP,
} from './build-tls-common.js';

export const VIRTUAL_INBOUND_PORT = 15006;

function inboundRouteConfig(port: number): EnvoyResource {
  const cluster = inboundClusterName(port);
  return {
    name: cluster,
    virtual_hosts: [{
      name: `inbound|http|${port}`,
      domains: ['*'],
      routes: [{
        name: 'default',
        match: { prefix: '/' },
        route: { cluster, timeout: { seconds: 0 } },
        decorator: { operation: `${cluster}/*` },
      }],
    }],
    validate_clusters: { value: false },
  };
}

function httpFilters(p: InboundPort, telemetry: ListenerTelemetry, pathNormalization: EnvoyResource, authz: AuthzFilters): EnvoyResource[] {
  return [hcmFilter({
    statPrefix: `inbound_0.0.0.0_${p.port}`,
    routeConfig: inboundRouteConfig(p.port),
    // AuthorizationPolicy's RBAC filters (DENY, AUDIT, ALLOW) before the router
    httpFilters: [...authz.http, routerFilter()],
    telemetry,
    xfcc: 'SANITIZE_SET',
    pathNormalization,
  })];
}

/** Istio's inbound DownstreamTlsContext for mesh mTLS. */
export function inboundMtlsContext(pc: PushContext, http: boolean): EnvoyResource {
  const mesh = pc.meshConfig.meshMTLS;
  return {
    common_tls_context: {
      tls_params: {
        tls_minimum_protocol_version: envoyTlsVersion(mesh?.minProtocolVersion) ?? 'TLSv1_2',
        tls_maximum_protocol_version: 'TLSv1_3',
        cipher_suites: [...(mesh?.cipherSuites?.length ? mesh.cipherSuites : ISTIO_CIPHERS)],
      },
      alpn_protocols: [...(http ? SERVER_ALPN_HTTP : SERVER_ALPN_TCP)],
      tls_certificate_sds_secret_configs: [agentSecret(SDS_DEFAULT)],
      combined_validation_context: {
        default_validation_context: {},
        validation_context_sds_secret_config: agentSecret(SDS_ROOTCA),
      },
    },
    require_client_certificate: { value: true },
  };
}

type Match = Record<string, unknown>;

function chain(name: string, match: Match, filters: EnvoyResource[], tls?: EnvoyResource): EnvoyResource {
  const c: EnvoyResource = { name };
  if (Object.keys(match).length) c.filter_chain_match = match;
  c.filters = filters;
  if (tls) c.transport_socket = downstreamTlsSocket(tls);
  return c;
}

/** The filter chains of a workload port for its mTLS mode; `match` (destination port) is added to each. */
export function inboundChains(
  pc: PushContext, p: InboundPort, mode: EffectiveMtlsMode, telemetry: ListenerTelemetry, match: Match, normalization: EnvoyResource, authz: AuthzFilters,
): EnvoyResource[] {
  const cluster = inboundClusterName(p.port);
  // network RBAC before tcp_proxy (a TCP port is authorized per connection)
  const tcp = () => [...authz.tcp, ...tcpFilters(cluster, [{ name: cluster, weight: 1 }], telemetry)];
  const http = () => httpFilters(p, telemetry, normalization, authz);
  const name = `0.0.0.0_${p.port}`;
  const raw = { ...match, transport_protocol: 'raw_buffer' };
  const tls = { ...match, transport_protocol: 'tls' };
  const mtls = mode !== 'DISABLE';
  const plain = mode !== 'STRICT';
  const out: EnvoyResource[] = [];
  if (isHttpProtocol(p.protocol)) {
    if (mtls) out.push(chain(name, { ...tls, application_protocols: [...MTLS_TCP_ALPNS, ...MTLS_HTTP_ALPNS] }, http(), inboundMtlsContext(pc, true)));
    if (plain) out.push(chain(name, mtls ? raw : match, http()));
    return out;
  }
  if (!p.sniffed) {
    if (mtls) out.push(chain(name, { ...tls, application_protocols: [...MTLS_TCP_ALPNS, ...MTLS_HTTP_ALPNS] }, tcp(), inboundMtlsContext(pc, false)));
    // the app's own TLS (no Istio ALPN) passes through as TCP, unless STRICT
    if (plain) out.push(chain(name, mtls ? tls : match, tcp()));
    if (plain && mtls) out.push(chain(name, raw, tcp()));
    return out;
  }
  if (mtls) {
    out.push(chain(name, { ...tls, application_protocols: [...MTLS_HTTP_ALPNS] }, http(), inboundMtlsContext(pc, true)));
    out.push(chain(name, { ...tls, application_protocols: [...MTLS_TCP_ALPNS] }, tcp(), inboundMtlsContext(pc, false)));
  }
  if (plain) {
    out.push(chain(name, { ...(mtls ? raw : match), application_protocols: [...SNIFFED_HTTP_PROTOCOLS] }, http()));
    out.push(chain(name, mtls ? raw : match, tcp()));
    if (mtls) out.push(chain(name, tls, tcp()));
  }
  return out;
}

function listenerFilters(original: boolean, sniffing: boolean, tls: boolean): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  if (original) out.push({ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': ORIGINAL_DST_LISTENER_FILTER_TYPE } });
  if (tls) out.push({ name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TLS_INSPECTOR_TYPE } });
  if (sniffing) out.push({ name: 'envoy.filters.listener.http_inspector', typed_config: { '@type': HTTP_INSPECTOR_TYPE } });
  return out;
}

export function inboundListeners(pc: PushContext, proxy: ProxyIdentity, telemetry: ListenerTelemetry): EnvoyResource[] {
  if (proxy.anonymous) return [];
  const ports = inboundPorts(pc, proxy);
  const policies = pc.ofKind<PeerAuthenticationSpec>('PeerAuthentication') as readonly PeerAuthentication[];
  const eff = effectivePeerAuthentication(policies, { namespace: proxy.namespace, labels: proxy.labels });
  const modeOf = (port: number) => mtlsModeForPort(eff, port);
  const normalization = pathNormalizationFields(pc.meshConfig);
  const authz = buildAuthzFilters(pc, proxy);
  if (proxy.interceptionMode === 'NONE') {
    if (!proxy.address) return [];
    return ports.map((p) => {
      const mode = modeOf(p.port);
      const filters = listenerFilters(false, p.sniffed, mode !== 'DISABLE');
      return {
        name: `${proxy.address}_${p.port}`,
        address: socketAddress(proxy.address, p.port),
        traffic_direction: 'INBOUND',
        ...(filters.length ? { listener_filters: filters } : {}),
        filter_chains: inboundChains(pc, p, mode, telemetry, {}, normalization, authz).map(({ name: _n, ...c }) => c),
      };
    });
  }
  const catchAll = [...authz.tcp, ...tcpFilters(INBOUND_PASSTHROUGH_CLUSTER, [{ name: INBOUND_PASSTHROUGH_CLUSTER, weight: 1 }], telemetry)];
  const catchAllChains: EnvoyResource[] = [];
  if (eff.mode !== 'DISABLE') catchAllChains.push(chain('virtualInbound-catchall-tls', { transport_protocol: 'tls', application_protocols: [...MTLS_TCP_ALPNS, ...MTLS_HTTP_ALPNS] }, catchAll, inboundMtlsContext(pc, false)));
  if (eff.mode !== 'STRICT') catchAllChains.push(chain('virtualInbound-catchall-tcp', {}, catchAll));
  return [{
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', VIRTUAL_INBOUND_PORT),
    // TPROXY delivers connections still addressed to the pod's IP and port: the socket must accept them
    ...(proxy.interceptionMode === 'TPROXY' ? { transparent: { value: true } } : {}),
    traffic_direction: 'INBOUND',
    listener_filters: listenerFilters(true, ports.some((p) => p.sniffed), eff.mode !== 'DISABLE' || ports.some((p) => modeOf(p.port) !== 'DISABLE')),
    filter_chains: [
      ...ports.flatMap((p) => inboundChains(pc, p, modeOf(p.port), telemetry, { destination_port: { value: p.port } }, normalization, authz)),
      ...catchAllChains,
    ],
  }];
}
