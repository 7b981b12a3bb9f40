/**
 * Shared pieces of the TLS builders, in Istio's shapes: the SDS config sources (the proxy's own
 * agent on the `sds-grpc` cluster for `default`/`ROOTCA`, ADS for named credentials), ALPN values,
 * TLS versions and the transport socket wrappers.
 */
import type { EnvoyResource } from '../../xds/codec.js';
import { DOWNSTREAM_TLS_CONTEXT_TYPE, RAW_BUFFER_TYPE, UPSTREAM_TLS_CONTEXT_TYPE } from '../../xds/type-urls.js';

export const SDS_DEFAULT = 'default';
export const SDS_ROOTCA = 'ROOTCA';
export const SDS_GRPC_CLUSTER = 'sds-grpc';
export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const RAW_TRANSPORT_SOCKET = 'envoy.transport_sockets.raw_buffer';

/** Cluster ALPN with metadata exchange (Istio's util.go); HTTP/2 clusters add h2. */
export const ALPN_ISTIO = ['istio-peer-exchange', 'istio'] as const;
export const ALPN_ISTIO_H2 = ['istio-peer-exchange', 'istio', 'h2'] as const;
/** Server ALPN of mTLS inbound chains: HTTP ports and TCP ports. */
export const SERVER_ALPN_HTTP = ['h2', 'http/1.1'] as const;
export const SERVER_ALPN_TCP = ['istio-peer-exchange', 'h2', 'http/1.1'] as const;
/** ALPN the inbound mTLS HTTP chain matches on (client-sent only, via istio.alpn) */
export const MTLS_HTTP_ALPNS = ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'] as const;
/** ALPN of an mTLS TCP (or declared-protocol) connection */
export const MTLS_TCP_ALPNS = ['istio-peer-exchange', 'istio'] as const;
/** Istio's default ciphers for TLS <= 1.2 (meshMTLS.cipherSuites overrides) */
export const ISTIO_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-GCM-SHA256',
] as const;

/** The proxy's own agent (Istio's bootstrap `sds-grpc` cluster) serves `default` and `ROOTCA`. */
export function agentSecret(name: string): EnvoyResource {
  return {
    name,
    sds_config: {
      api_config_source: {
        api_type: 'GRPC',
        set_node_on_first_message_only: true,
        transport_api_version: 'V3',
        grpc_services: [{ envoy_grpc: { cluster_name: SDS_GRPC_CLUSTER } }],
      },
      initial_fetch_timeout: { seconds: 0 },
      resource_api_version: 'V3',
    },
  };
}

/** A named credential (`kubernetes://...`) from the control plane over ADS. */
export function adsSecret(name: string): EnvoyResource {
  return { name, sds_config: { ads: {}, initial_fetch_timeout: { seconds: 0 }, resource_api_version: 'V3' } };
}

/** Istio's TLSV1_2 → Envoy's TLSv1_2 (TLS_AUTO: the default). */
export function envoyTlsVersion(v: string | undefined): string | undefined {
  switch (v) {
    case 'TLSV1_0': return 'TLSv1_0';
    case 'TLSV1_1': return 'TLSv1_1';
    case 'TLSV1_2': return 'TLSv1_2';
    case 'TLSV1_3': return 'TLSv1_3';
    default: return undefined;
  }
}

export function upstreamTlsSocket(ctx: EnvoyResource): EnvoyResource {
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': UPSTREAM_TLS_CONTEXT_TYPE, ...ctx } };
}

export function downstreamTlsSocket(ctx: EnvoyResource): EnvoyResource {
  return { name: TLS_TRANSPORT_SOCKET, typed_config: { '@type': DOWNSTREAM_TLS_CONTEXT_TYPE, ...ctx } };
}

export function rawBufferSocket(): EnvoyResource {
  return { name: RAW_TRANSPORT_SOCKET, typed_config: { '@type': RAW_BUFFER_TYPE } };
}

/** Exact SAN matchers, Istio's untyped form (`match_subject_alt_names`). */
export function exactSans(sans: readonly string[]): EnvoyResource[] {
  return sans.map((s) => ({ exact: s }));
}
