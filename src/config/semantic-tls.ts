/**
 * TLS settings with Istio's rules and messages: DestinationRule `ClientTLSSettings`
 * (pkg/config/validation/agent ValidateTLS) and Gateway `ServerTLSSettings` (validateTLSOptions and
 * validateServer), each error on the field it is about. Clew adds warnings where a field would
 * have no effect (certificates with ISTIO_MUTUAL or DISABLE).
 */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asList, asStr, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';

const CLIENT_CERT_FIELDS = ['clientCertificate', 'privateKey', 'caCertificates', 'caCrl', 'credentialName'] as const;

/** DestinationRule `trafficPolicy.tls` (and per port, per subset); `selector`: the DR has a workloadSelector. */
export function validateClientTls(tls: Obj, p: string, rep: Reporter, o: { workloadSelector: boolean }): void {
  const mode = asStr(tls.mode) ?? 'DISABLE';
  const f = (k: string) => joinKey(p, k);
  const set = (k: string) => has(tls, k) && tls[k] !== '' && !(Array.isArray(tls[k]) && (tls[k] as unknown[]).length === 0);
  const credentialName = asStr(tls.credentialName) ?? '';

  if (tls.insecureSkipVerify === true) {
    if (mode === 'SIMPLE') {
      for (const k of ['caCertificates', 'credentialName', 'subjectAltNames']) {
        if (has(tls, k)) rep.error(f(k), 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true', Codes.tls);
      }
    }
    if (mode === 'MUTUAL') {
      for (const k of ['caCertificates', 'subjectAltNames']) {
        if (has(tls, k)) rep.error(f(k), 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true', Codes.tls);
      }
    }
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && credentialName !== '') {
    for (const k of ['clientCertificate', 'caCertificates', 'privateKey', 'caCrl']) {
      if (set(k)) rep.error(f(k), 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set', Codes.tls);
    }
    if (!o.workloadSelector) {
      rep.warn(f('credentialName'), 'credentialName applies at gateways; sidecars use it only when the DestinationRule has a workloadSelector', Codes.tls);
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (!set('clientCertificate')) rep.error(f('clientCertificate'), 'client certificate required for mutual tls', Codes.tls);
    if (!set('privateKey')) rep.error(f('privateKey'), 'private key required for mutual tls', Codes.tls);
  }
  if (mode === 'ISTIO_MUTUAL' || mode === 'DISABLE') {
    for (const k of CLIENT_CERT_FIELDS) {
      if (set(k)) rep.warn(f(k), `has no effect with mode ${mode}${mode === 'ISTIO_MUTUAL' ? " (the workload's own Istio certificate is used)" : ''}`, Codes.tls);
    }
  }
}

/** Gateway `servers[].tls` with the server's port protocol. */
export function validateServerTls(server: Obj, p: string, protocol: string | undefined, rep: Reporter): void {
  const tlsPath = joinKey(p, 'tls');
  const isTlsProtocol = protocol === 'HTTPS' || protocol === 'TLS';
  const isHttp = protocol === 'HTTP' || protocol === 'HTTP2' || protocol === 'GRPC' || protocol === 'GRPC-WEB';
  if (!has(server, 'tls')) {
    if (isTlsProtocol) rep.error(tlsPath, 'server must have TLS settings for HTTPS/TLS protocols', Codes.tls);
    return;
  }
  const tls = (server.tls ?? {}) as Obj;
  const f = (k: string) => joinKey(tlsPath, k);
  const set = (k: string) => has(tls, k) && tls[k] !== '' && !(Array.isArray(tls[k]) && (tls[k] as unknown[]).length === 0);
  const mode = asStr(tls.mode) ?? 'PASSTHROUGH';

  if (!isTlsProtocol && protocol !== undefined) {
    if (isHttp) {
      const passthrough = mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH';
      if (!passthrough || set('caCertificates') || set('privateKey') || set('serverCertificate')) {
        rep.error(tlsPath, 'server cannot have TLS settings for plain text HTTP ports', Codes.tls);
      }
    } else {
      rep.error(tlsPath, 'server cannot have TLS settings for non HTTPS/TLS ports', Codes.tls);
    }
  }
  if (tls.httpsRedirect === true && !isHttp && protocol !== undefined) {
    rep.warn(f('httpsRedirect'), 'tls.httpsRedirect should only be used with http servers', Codes.tls);
  }
  const minVersion = asStr(tls.minProtocolVersion);
  if ((minVersion === 'TLSV1_0' || minVersion === 'TLSV1_1') && asList(tls.cipherSuites).length === 0) {
    rep.warn(f('minProtocolVersion'), 'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.', Codes.tls);
  }
  const maxVersion = asStr(tls.maxProtocolVersion);
  const order = ['TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'];
  if (minVersion && maxVersion && order.includes(minVersion) && order.includes(maxVersion) && order.indexOf(minVersion) > order.indexOf(maxVersion)) {
    rep.error(f('maxProtocolVersion'), `maxProtocolVersion ${maxVersion} is below minProtocolVersion ${minVersion}`, Codes.tls);
  }

  if (mode === 'ISTIO_MUTUAL') {
    const forbidden: [string, string][] = [
      ['serverCertificate', 'server certificate'], ['privateKey', 'private key'], ['caCertificates', 'CA bundle'],
      ['tlsCertificates', 'tlsCertificates'], ['credentialName', 'credentialName'], ['credentialNames', 'credentialNames'],
    ];
    for (const [k, what] of forbidden) if (set(k)) rep.error(f(k), `ISTIO_MUTUAL TLS cannot have associated ${what}`, Codes.tls);
    return;
  }
  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    if (['caCrl', 'serverCertificate', 'privateKey', 'caCertificates', 'tlsCertificates', 'credentialName', 'credentialNames'].some(set)) {
      rep.warn(tlsPath, `${mode} mode does not use certificates, they will be ignored`, Codes.tls);
    }
  }
  let sources = 0;
  if (set('serverCertificate') && set('privateKey')) sources++;
  if (set('credentialName')) sources++;
  if (set('credentialNames')) sources++;
  if (set('tlsCertificates')) sources++;
  if (sources > 1) rep.error(tlsPath, 'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified', Codes.tls);

  const terminating = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  if (terminating && (set('credentialName') || set('credentialNames'))) {
    if (set('caCrl') && set('credentialName')) rep.error(f('caCrl'), 'CRL is not supported with credentialName. CRL has to be specified in the credential', Codes.tls);
    return;
  }
  if (terminating) {
    const prefix = mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
    if (mode !== 'SIMPLE' && !set('caCertificates')) rep.error(f('caCertificates'), `${prefix} requires a client CA bundle`, Codes.tls);
    const certs = Array.isArray(tls.tlsCertificates) && tls.tlsCertificates.length > 0
      ? (tls.tlsCertificates as Obj[]).map((c, i) => ({ c: c ?? {}, path: joinIndex(f('tlsCertificates'), i) }))
      : [{ c: tls, path: tlsPath }];
    if (certs.length > 2) rep.warn(f('tlsCertificates'), `${prefix} can support up to 2 server certificates`, Codes.tls);
    for (const { c, path } of certs) {
      if (!asStr(c.serverCertificate)) rep.error(joinKey(path, 'serverCertificate'), `${prefix} requires a server certificate`, Codes.tls);
      if (!asStr(c.privateKey)) rep.error(joinKey(path, 'privateKey'), `${prefix} requires a private key`, Codes.tls);
    }
  }
  if (set('caCrl') && mode === 'SIMPLE') rep.error(f('caCrl'), 'CRL is not supported with SIMPLE TLS', Codes.tls);
}
