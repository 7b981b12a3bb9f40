/** Gateway spec schema (networking.istio.io). */
import { bool, enm, list, obj, refused, str, strList, strMap, type Schema } from './schema-dsl.js';
import { servicePort } from './schema-common.js';

const TLS_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;

/** Istio's ServerTLSSettings (Gateway servers, Sidecar ingress listeners). */
export const serverTls = obj({
  httpsRedirect: bool(),
  mode: enm('PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'),
  serverCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: refused(str(), 'certificate revocation lists are not checked: a revoked client certificate would be accepted'),
  credentialName: str(),
  credentialNames: refused(strList(), 'several server certificates (RSA and ECDSA) are not served; use credentialName'),
  caCertCredentialName: refused(str(), 'the client CA would not come from this secret; put ca.crt in the credentialName secret'),
  tlsCertificates: refused(
    list(obj({ serverCertificate: str(), privateKey: str(), caCertificates: str() })),
    'several server certificates are not served; use serverCertificate/privateKey or credentialName',
  ),
  subjectAltNames: strList(),
  verifyCertificateSpki: refused(strList(), 'client certificates would not be pinned to these SPKI hashes'),
  verifyCertificateHash: refused(strList(), 'client certificates would not be pinned to these hashes'),
  minProtocolVersion: enm(...TLS_VERSIONS),
  maxProtocolVersion: enm(...TLS_VERSIONS),
  cipherSuites: strList(),
  insecureSkipVerify: refused(bool(), 'client certificates that fail verification would be refused instead of let through', (v) => v === true),
});

const server = obj(
  {
    port: obj({ ...fieldsOf(servicePort) }, { required: ['number', 'name', 'protocol'] }),
    bind: str(),
    hosts: strList(),
    tls: serverTls,
    name: str(),
    defaultEndpoint: refused(str(), 'gateway servers forward by their routes only'),
  },
  { required: ['port'] },
);

export const gatewaySchema: Schema = obj({ selector: strMap(), servers: list(server) });

function fieldsOf(s: Schema): Record<string, Schema> {
  return s.t === 'object' ? s.fields : {};
}
