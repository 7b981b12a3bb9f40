/** Gateway spec schema (networking.istio.io). */
import { bool, enm, list, obj, str, strList, strMap, type Schema } from './schema-dsl.js';
import { servicePort } from './schema-common.js';

const serverTls = obj({
  httpsRedirect: bool(),
  mode: enm('PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'),
  serverCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  caCrl: str(),
  credentialName: str(),
  credentialNames: strList(),
  caCertCredentialName: str(),
  tlsCertificates: list(obj({ serverCertificate: str(), privateKey: str(), caCertificates: str() })),
  subjectAltNames: strList(),
  verifyCertificateSpki: strList(),
  verifyCertificateHash: strList(),
  minProtocolVersion: enm('TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'),
  maxProtocolVersion: enm('TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'),
  cipherSuites: strList(),
});

const server = obj(
  {
    port: obj({ ...fieldsOf(servicePort) }, { required: ['number', 'name', 'protocol'] }),
    bind: str(),
    hosts: strList(),
    tls: serverTls,
    name: str(),
    defaultEndpoint: str(),
  },
  { required: ['port'] },
);

export const gatewaySchema: Schema = obj({ selector: strMap(), servers: list(server) });

function fieldsOf(s: Schema): Record<string, Schema> {
  return s.t === 'object' ? s.fields : {};
}
