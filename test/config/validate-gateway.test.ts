import { doc, runCases, type Case } from './cases-helper.js';

const gw = (spec: string) => doc('Gateway', spec);
const at = (line: number, rest: string) => `test.yaml:${line}: Gateway default/x: ${rest}`;
/** `servers:` on line 6, the first server on line 7. */
const servers = (s: string) => gw(`  servers:\n${s}`);

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
    want: [at(7, 'spec.servers[0].tls: TLS settings are required for protocol HTTPS')],
  },
  {
    name: 'TLS server without tls (lower-case protocol)',
    yaml: servers('  - port: {number: 443, name: tls, protocol: tls}\n    hosts: ["*"]\n'),
    want: [at(7, 'spec.servers[0].tls: TLS settings are required for protocol TLS')],
  },
  {
    name: 'SIMPLE TLS without credentials',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: SIMPLE\n'),
    want: [at(9, 'spec.servers[0].tls: SIMPLE TLS requires credentialName, or serverCertificate and privateKey')],
  },
  {
    name: 'MUTUAL TLS without CA',
    yaml: servers('  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: ["*"]\n    tls:\n      mode: MUTUAL\n      serverCertificate: /c.pem\n      privateKey: /k.pem\n'),
    want: [at(9, 'spec.servers[0].tls: MUTUAL TLS requires caCertificates (or credentialName)')],
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
