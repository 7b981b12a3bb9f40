/**
 * Upstream TLS of outbound clusters, Istio's rules (pilot/pkg/networking/core/cluster_tls.go and
 * auto mTLS): a DestinationRule TLS mode always wins (DISABLE: plaintext; ISTIO_MUTUAL: the
 * workload's own certificate; SIMPLE/MUTUAL: TLS origination with files or a credentialName).
 * Without one and with MeshConfig `enableAutoMtls` (default true), a mesh-internal cluster gets
 * two transport-socket matches: endpoints labelled `tlsMode: istio` (they have a sidecar, and
 * their PeerAuthentication is not DISABLE: see build-load-assignment) use ISTIO_MUTUAL, the rest
 * raw_buffer. A client without an identity (served anonymously) has no certificate, so auto mTLS
 * is off for it.
 *
 * ISTIO_MUTUAL: certificate from SDS `default` and trust from SDS `ROOTCA` (the proxy's agent),
 * SNI `outbound_.<port>_.<subset>_.<fqdn>`, the SAN check against the DestinationRule's
 * subjectAltNames or else the service accounts of the service's endpoints, ALPN
 * `istio-peer-exchange, istio` (+h2 for HTTP/2 clusters), TLS 1.2 to 1.3.
 */
import * as fs from 'node:fs';
import type { ClientTLSSettings } from '../../config/types.js';
import type { MeshService, ServicePortInfo } from '../../registry/types.js';
import { isHttp2Protocol } from '../../registry/registry-protocol.js';
import type { EnvoyResource } from '../../xds/codec.js';
import { jsonToStruct } from '../../xds/struct.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { MergedDestinationRule, PushContext } from '../push-context.js';
import {
  adsSecret, agentSecret, ALPN_ISTIO, ALPN_ISTIO_H2, exactSans, rawBufferSocket, SDS_DEFAULT, SDS_ROOTCA, upstreamTlsSocket,
} from './build-tls-common.js';

export const TLS_MODE_ISTIO = 'istio';
export const TRANSPORT_SOCKET_MATCH = 'envoy.transport_socket_match';

/** Istio's SNI for a mesh cluster (BuildDNSSrvSubsetKey with the outbound direction). */
export function istioSni(port: number, subset: string | undefined, host: string): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>` of every endpoint of the service port (sorted, unique). */
export function serviceAccountsOf(pc: PushContext, svc: MeshService, port: number): string[] {
  const td = pc.meshConfig.trustDomain || 'cluster.local';
  const out = new Set<string>();
  for (const i of pc.instances(svc.hostname, port)) {
    const ep = i.endpoint;
    if (ep.serviceAccount) out.add(`spiffe://${td}/ns/${ep.namespace ?? svc.namespace}/sa/${ep.serviceAccount}`);
  }
  return [...out].sort();
}

export function istioMutualContext(o: { sni: string; sans: readonly string[]; h2: boolean }): EnvoyResource {
  const validation: EnvoyResource = {};
  if (o.sans.length) validation.match_subject_alt_names = exactSans(o.sans);
  return {
    common_tls_context: {
      tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
      alpn_protocols: [...(o.h2 ? ALPN_ISTIO_H2 : ALPN_ISTIO)],
      tls_certificate_sds_secret_configs: [agentSecret(SDS_DEFAULT)],
      combined_validation_context: {
        default_validation_context: validation,
        validation_context_sds_secret_config: agentSecret(SDS_ROOTCA),
      },
    },
    sni: o.sni,
  };
}

/** System trust for TLS origination without caCertificates (Istio's VERIFY_CERTIFICATE_AT_CLIENT). */
const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

export function systemCaFile(exists: (f: string) => boolean = fs.existsSync): string {
  return SYSTEM_CA_FILES.find(exists) ?? SYSTEM_CA_FILES[0];
}

/** DestinationRule SIMPLE or MUTUAL: TLS origination with files or a credentialName. */
export function userTlsContext(tls: ClientTLSSettings, o: { host: string; h2: boolean; credentialAllowed: boolean }): EnvoyResource {
  const common: EnvoyResource = {};
  const credential = tls.credentialName && o.credentialAllowed ? tls.credentialName : undefined;
  if (tls.mode === 'MUTUAL') {
    if (credential) common.tls_certificate_sds_secret_configs = [adsSecret(`kubernetes://${credential}`)];
    else if (tls.clientCertificate && tls.privateKey) {
      common.tls_certificates = [{ certificate_chain: { filename: tls.clientCertificate }, private_key: { filename: tls.privateKey } }];
    }
  }
  if (!tls.insecureSkipVerify) {
    const sans = tls.subjectAltNames?.length ? exactSans(tls.subjectAltNames) : undefined;
    if (credential) {
      common.combined_validation_context = {
        default_validation_context: sans ? { match_subject_alt_names: sans } : {},
        validation_context_sds_secret_config: adsSecret(`kubernetes://${credential}-cacert`),
      };
    } else {
      common.validation_context = {
        trusted_ca: { filename: tls.caCertificates || systemCaFile() },
        ...(sans ? { match_subject_alt_names: sans } : {}),
      };
    }
  }
  if (o.h2) common.alpn_protocols = ['h2'];
  const sni = tls.sni || (o.host.startsWith('*') ? undefined : o.host);
  return { common_tls_context: common, ...(sni ? { sni } : {}) };
}

export interface ClusterTransport {
  transport_socket?: EnvoyResource;
  transport_socket_matches?: EnvoyResource[];
  metadata?: EnvoyResource;
}

/** The transport of an outbound cluster (`policyTls`: the DestinationRule TLS for this port/subset). */
export function clusterTransport(
  pc: PushContext, proxy: ProxyIdentity, svc: MeshService, sp: ServicePortInfo, subset: string | undefined,
  policyTls: ClientTLSSettings | undefined, dr: MergedDestinationRule | undefined,
): ClusterTransport {
  const h2 = isHttp2Protocol(sp.protocol);
  const istio = (): EnvoyResource => istioMutualContext({
    sni: istioSni(sp.port, subset, svc.hostname),
    sans: policyTls?.subjectAltNames?.length ? policyTls.subjectAltNames : serviceAccountsOf(pc, svc, sp.port),
    h2,
  });
  const mode = policyTls?.mode;
  if (mode === 'DISABLE') return {};
  if (mode === 'ISTIO_MUTUAL') return { transport_socket: upstreamTlsSocket(istio()) };
  if (mode === 'SIMPLE' || mode === 'MUTUAL') {
    // a credentialName applies at gateways, and at sidecars only for a DR with a workloadSelector
    const credentialAllowed = proxy.type === 'router' || Boolean(dr?.spec.workloadSelector);
    return {
      transport_socket: upstreamTlsSocket(userTlsContext(policyTls!, { host: svc.hostname, h2, credentialAllowed })),
      // as Istio: the upstream is not a sidecar, so istio.alpn must not replace the TLS ALPN
      // (an HTTPS server offered only istio-http/1.1 would refuse the handshake)
      metadata: { filter_metadata: { istio: jsonToStruct({ alpn_override: 'false' }) } },
    };
  }
  if (pc.meshConfig.enableAutoMtls === false || proxy.anonymous || svc.location !== 'MESH_INTERNAL') return {};
  return {
    transport_socket_matches: [
      { name: 'tlsMode-istio', match: jsonToStruct({ tlsMode: TLS_MODE_ISTIO }), transport_socket: upstreamTlsSocket(istio()) },
      { name: 'tlsMode-disabled', match: {}, transport_socket: rawBufferSocket() },
    ],
  };
}
