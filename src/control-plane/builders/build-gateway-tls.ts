/**
 * Gateway TLS (Istio's gateway.go): a server's `tls` becomes a filter chain with a
 * DownstreamTlsContext, matched by SNI on the server's hosts.
 *  - SIMPLE: the server certificate from files (`serverCertificate`/`privateKey`) or from
 *    `credentialName` (SDS `kubernetes://<name>` over ADS, a Secret in the gateway's namespace);
 *  - MUTUAL: also the client's certificate, required, checked against `caCertificates` or the
 *    credential's CA part (`kubernetes://<name>-cacert`), and `subjectAltNames`;
 *    OPTIONAL_MUTUAL: the same, the client certificate asked for but not required;
 *  - ISTIO_MUTUAL: the gateway's own workload certificate and the mesh root (SDS default/ROOTCA);
 *  - PASSTHROUGH: no termination: VirtualService `tls` routes pick the destination by SNI.
 * HTTPS servers get their own route configuration, `https.<port>.<portName>.<gateway>.<namespace>`.
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { GatewayServer, ServerTLSSettings } from '../../config/types.js';
import {
  adsSecret, agentSecret, envoyTlsVersion, exactSans, SDS_DEFAULT, SDS_ROOTCA,
} from './build-tls-common.js';

/** An HTTPS server whose TLS the gateway terminates (then HTTP). */
export function terminatesTls(s: GatewayServer): boolean {
  const mode = s.tls?.mode;
  return s.port.protocol.toUpperCase() === 'HTTPS' && mode !== undefined && mode !== 'PASSTHROUGH' && mode !== 'AUTO_PASSTHROUGH';
}

export function isTlsProtocol(s: GatewayServer): boolean {
  const p = s.port.protocol.toUpperCase();
  return p === 'HTTPS' || p === 'TLS';
}

/** SNI passthrough: protocol TLS (or HTTPS) with mode PASSTHROUGH. */
export function isPassthrough(s: GatewayServer): boolean {
  return isTlsProtocol(s) && s.tls?.mode === 'PASSTHROUGH';
}

/** The route configuration of an HTTPS server (Istio's naming). */
export function httpsRouteName(s: GatewayServer, gwName: string, gwNamespace: string): string {
  return `https.${s.port.number}.${s.port.name}.${gwName}.${gwNamespace}`;
}

/** The SNI names a server's chain matches: its hosts without the namespace part; none for `*`. */
export function serverNames(s: GatewayServer): string[] | undefined {
  const hosts = s.hosts.map((h) => (h.includes('/') ? h.slice(h.indexOf('/') + 1) : h));
  return hosts.some((h) => h === '*') ? undefined : hosts;
}

/** The DownstreamTlsContext of a terminating server. */
export function gatewayTlsContext(tls: ServerTLSSettings, http: boolean): EnvoyResource {
  const common: EnvoyResource = {};
  const min = envoyTlsVersion(tls.minProtocolVersion);
  const max = envoyTlsVersion(tls.maxProtocolVersion);
  if (min || max || tls.cipherSuites?.length) {
    common.tls_params = {
      ...(min ? { tls_minimum_protocol_version: min } : {}),
      ...(max ? { tls_maximum_protocol_version: max } : {}),
      ...(tls.cipherSuites?.length ? { cipher_suites: [...tls.cipherSuites] } : {}),
    };
  }
  if (http) common.alpn_protocols = ['h2', 'http/1.1'];
  const mode = tls.mode ?? 'SIMPLE';
  const mutual = mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  if (mode === 'ISTIO_MUTUAL') {
    common.tls_certificate_sds_secret_configs = [agentSecret(SDS_DEFAULT)];
    common.combined_validation_context = { default_validation_context: {}, validation_context_sds_secret_config: agentSecret(SDS_ROOTCA) };
    return { common_tls_context: common, require_client_certificate: { value: true } };
  }
  const sans = tls.subjectAltNames?.length ? { match_subject_alt_names: exactSans(tls.subjectAltNames) } : {};
  if (tls.credentialName) {
    common.tls_certificate_sds_secret_configs = [adsSecret(`kubernetes://${tls.credentialName}`)];
    if (mutual) {
      common.combined_validation_context = {
        default_validation_context: sans,
        validation_context_sds_secret_config: adsSecret(`kubernetes://${tls.credentialName}-cacert`),
      };
    }
  } else {
    common.tls_certificates = [{ certificate_chain: { filename: tls.serverCertificate }, private_key: { filename: tls.privateKey } }];
    if (mutual) common.validation_context = { trusted_ca: { filename: tls.caCertificates }, ...sans };
  }
  return { common_tls_context: common, require_client_certificate: { value: mode === 'MUTUAL' } };
}
