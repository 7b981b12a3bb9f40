import { doc, runCases, type Case } from './cases-helper.js';

const gw = (spec: string) => doc('Gateway', spec);
const at = (line: number, rest: string) => `test.yaml:${line}: Gateway default/x: ${rest}`;
const warnAt = (line: number, rest: string) => `test.yaml:${line}: warning: Gateway default/x: ${rest}`;
/** `servers:` on line 6, the first server on line 7. */
const servers = (s: string) => gw(`  servers:\n${s}`);

const CRL_REFUSED = 'is not implemented by Clew and cannot be ignored safely (certificate revocation lists are not checked: a revoked client certificate would be accepted); remove it or use Istio';

const cases: Case[] = [
  { name: 'no servers', yaml: gw('  selector: {istio: ingressgateway}\n'), want: [at(5, 'spec.servers: at least one server is required')] },
  {
    name: 'server without hosts',
    yaml: servers('  - port: {number: 80, name: http, protocol: HTTP}\n'),
    want: [at(7, 'spec.servers[0].hosts: at least one host is required')],
  },
  {
    name: 'duplicate port names',
    yaml: servers('  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: ["*"]\n'),
    want: [at(9, 'spec.servers[1].port.name: duplicate port name "http"')],
  },
  {
    name: 'unknown protocol',
    yaml: servers('  - port:\n      number: 80\n      name: http\n      protocol: HTTPX\n    hosts: ["*"]\n'),
    want: [at(10, 'spec.servers[0].port.protocol: unknown protocol "HTTPX" (expected one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, TCP, TLS, UDP)')],
  },
  {
    name: 'HTTPS server without tls',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n'),
    want: [at(7, 'spec.servers[0].tls: server must have TLS settings for HTTPS/TLS protocols')],
  },
  {
    name: 'TLS server without tls (lower-case protocol)',
    yaml: servers('  - port: {number: 443, name: tls, protocol: tls}\n    hosts: ["*"]\n'),
    want: [at(7, 'spec.servers[0].tls: server must have TLS settings for HTTPS/TLS protocols')],
  },
  {
    name: 'SIMPLE TLS without credentials',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: SIMPLE\n'),
    want: [
      at(9, 'spec.servers[0].tls.serverCertificate: SIMPLE TLS requires a server certificate'),
      at(9, 'spec.servers[0].tls.privateKey: SIMPLE TLS requires a private key'),
    ],
  },
  {
    name: 'MUTUAL TLS without CA',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: MUTUAL\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n'),
    want: [at(9, 'spec.servers[0].tls.caCertificates: MUTUAL TLS requires a client CA bundle')],
  },
  {
    name: 'OPTIONAL_MUTUAL needs a client CA bundle too; credentialName alone is enough',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: OPTIONAL_MUTUAL\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n  - port: {number: 8443, name: https-2, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: MUTUAL, credentialName: bookinfo-cert}\n'),
    want: [at(9, 'spec.servers[0].tls.caCertificates: MUTUAL TLS requires a client CA bundle')],
  },
  {
    name: 'two certificate sources',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: SIMPLE\n      credentialName: c\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n'),
    want: [at(9, 'spec.servers[0].tls: only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified')],
  },
  {
    name: 'ISTIO_MUTUAL with certificates',
    yaml: servers('  - port: {number: 15443, name: tls, protocol: TLS}\n    hosts: ["*"]\n    tls:\n      mode: ISTIO_MUTUAL\n      credentialName: c\n      caCertificates: /ca.pem\n'),
    want: [
      at(11, 'spec.servers[0].tls.credentialName: ISTIO_MUTUAL TLS cannot have associated credentialName'),
      at(12, 'spec.servers[0].tls.caCertificates: ISTIO_MUTUAL TLS cannot have associated CA bundle'),
    ],
  },
  {
    name: 'TLS settings on a plain HTTP port: only httpsRedirect',
    yaml: servers('  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n    tls: {httpsRedirect: true}\n  - port: {number: 81, name: http-2, protocol: HTTP}\n    hosts: ["*"]\n    tls: {mode: SIMPLE, credentialName: c}\n  - port: {number: 31400, name: tcp, protocol: TCP}\n    hosts: ["*"]\n    tls: {mode: PASSTHROUGH}\n'),
    want: [
      at(12, 'spec.servers[1].tls: server cannot have TLS settings for plain text HTTP ports'),
      at(15, 'spec.servers[2].tls: server cannot have TLS settings for non HTTPS/TLS ports'),
    ],
  },
  {
    name: 'CRL with SIMPLE, and with credentialName',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem, caCrl: /crl.pem}\n  - port: {number: 8443, name: https-2, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: MUTUAL, credentialName: c, caCrl: /crl.pem}\n'),
    want: [
      at(9, `spec.servers[0].tls.caCrl: ${CRL_REFUSED}`),
      at(9, 'spec.servers[0].tls.caCrl: CRL is not supported with SIMPLE TLS'),
      at(12, `spec.servers[1].tls.caCrl: ${CRL_REFUSED}`),
      at(12, 'spec.servers[1].tls.caCrl: CRL is not supported with credentialName. CRL has to be specified in the credential'),
    ],
  },
  {
    name: 'PASSTHROUGH with certificates (warning); old TLS without ciphers (warning); max below min',
    yaml: servers('  - port: {number: 443, name: tls, protocol: TLS}\n    hosts: ["*"]\n    tls: {mode: PASSTHROUGH, credentialName: c}\n  - port: {number: 8443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls: {mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_1, maxProtocolVersion: TLSV1_0}\n'),
    want: [
      warnAt(9, 'spec.servers[0].tls: PASSTHROUGH mode does not use certificates, they will be ignored'),
      warnAt(12, 'spec.servers[1].tls.minProtocolVersion: TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.'),
      at(12, 'spec.servers[1].tls.maxProtocolVersion: maxProtocolVersion TLSV1_0 is below minProtocolVersion TLSV1_1'),
    ],
  },
  {
    name: 'port number zero',
    yaml: servers('  - port: {number: 0, name: http, protocol: HTTP}\n    hosts: ["*"]\n'),
    want: [at(7, 'spec.servers[0].port.number: must be between 1 and 65535')],
  },
  {
    name: 'port without name',
    yaml: servers('  - port:\n      number: 80\n      protocol: HTTP\n    hosts: ["*"]\n'),
    want: [at(7, 'spec.servers[0].port.name: is required')],
  },
  {
    name: 'invalid server host',
    yaml: servers('  - port: {number: 80, name: http, protocol: HTTP}\n    hosts:\n    - "foo.*.com"\n'),
    want: [at(9, 'spec.servers[0].hosts[0]: invalid host "foo.*.com": a wildcard is only allowed as the leftmost label ("*.example.com")')],
  },
  {
    name: 'invalid namespace in server host',
    yaml: servers('  - port: {number: 80, name: http, protocol: HTTP}\n    hosts:\n    - "Prod_NS/example.com"\n'),
    want: [at(9, 'spec.servers[0].hosts[0]: invalid namespace "Prod_NS" in host "Prod_NS/example.com"')],
  },
  {
    name: 'selector value not a string',
    yaml: gw('  selector:\n    istio: [ingressgateway]\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n'),
    want: [at(7, 'spec.selector.istio: must be a string, got list')],
  },
];

runCases(cases);
