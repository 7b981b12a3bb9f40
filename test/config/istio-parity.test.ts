/**
 * Issue 25's listed disagreements with Istio, as regression tests: what Istio accepts and Clew
 * refused, what Istio rejects and Clew let through, and YAML read as Kubernetes reads it. Facts
 * from Istio's validation (pkg/config/validation) and CRD schemas (istio/api
 * kubernetes/customresourcedefinitions.gen.yaml).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMessage, parseConfigText } from '../../src/config/index.js';
import { doc, runCases, type Case } from './cases-helper.js';

const at = (kind: string, line: number, rest: string) => `test.yaml:${line}: ${kind} default/x: ${rest}`;
const warnAt = (kind: string, line: number, rest: string) => `test.yaml:${line}: warning: ${kind} default/x: ${rest}`;
const noEffect = (kind: string, line: number, field: string, why: string) =>
  warnAt(kind, line, `${field}: has no effect: Clew does not implement this field yet (${why})`);
const refused = (kind: string, line: number, field: string, why: string) =>
  at(kind, line, `${field}: is not implemented by Clew and cannot be ignored safely (${why}); remove it or use Istio`);

const se = (spec: string) => doc('ServiceEntry', spec);
const we = (spec: string) => doc('WorkloadEntry', spec);
const dr = (spec: string) => doc('DestinationRule', spec);
const vs = (spec: string) => doc('VirtualService', spec);
const ROUTE = '  http:\n  - route:\n    - destination: {host: reviews}\n';

/** Rejected by Clew though Istio accepts them. */
const acceptedByIstio: Case[] = [
  { name: 'ServiceEntry port without protocol (sniffed)', yaml: se('  hosts: [api.example.com]\n  ports: [{number: 8080, name: web}]\n  resolution: DNS\n'), want: [] },
  { name: 'ServiceEntry without ports', yaml: se('  hosts: [api.example.com]\n  resolution: DNS\n'), want: [] },
  { name: 'VirtualService without hosts (a delegate)', yaml: vs(ROUTE), want: [] },
  {
    name: 'DestinationRule retryBudget, http2KeepAlive, outlierDetectionHttpErrorCodes: accepted, each with a warning',
    yaml: dr(`  host: reviews
  trafficPolicy:
    retryBudget: {percent: 20, minRetryConcurrency: 3, budgetInterval: 10s}
    connectionPool:
      http:
        http2KeepAlive: {interval: 30s, timeout: 5s}
    outlierDetection:
      consecutive5xxErrors: 5
      outlierDetectionHttpErrorCodes: [500, 503]
`),
    want: [
      noEffect('DestinationRule', 8, 'spec.trafficPolicy.retryBudget', 'retries are limited by maxRetries only'),
      noEffect('DestinationRule', 11, 'spec.trafficPolicy.connectionPool.http.http2KeepAlive', 'no HTTP/2 PING keepalive is sent upstream'),
      noEffect('DestinationRule', 14, 'spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes', 'only 5xx and gateway errors count toward ejection'),
    ],
  },
  {
    name: 'DestinationRule zoneAwareLbSetting with minClusterSize: accepted with a warning',
    yaml: dr('  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      zoneAwareLbSetting: {enabled: true, minClusterSize: 3}\n'),
    want: [noEffect('DestinationRule', 9, 'spec.trafficPolicy.loadBalancer.zoneAwareLbSetting', "Envoy's zone-aware routing: endpoints are picked without zone weighting")],
  },
  {
    name: 'Gateway tlsCertificates and caCertCredentialName are known fields, refused because they carry security',
    yaml: doc('Gateway', `  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls:
      mode: MUTUAL
      caCertificates: /ca.pem
      caCertCredentialName: client-ca
      tlsCertificates:
      - {serverCertificate: /rsa.pem, privateKey: /rsa.key}
`),
    want: [
      refused('Gateway', 12, 'spec.servers[0].tls.caCertCredentialName', 'the client CA would not come from this secret; put ca.crt in the credentialName secret'),
      refused('Gateway', 13, 'spec.servers[0].tls.tlsCertificates', 'several server certificates are not served; use serverCertificate/privateKey or credentialName'),
    ],
  },
  {
    name: 'deprecated mirror_percent is taken as mirrorPercent',
    yaml: vs(`  hosts: [reviews]\n${ROUTE}    mirror: {host: reviews-shadow}\n    mirror_percent: 50\n`),
    want: [
      warnAt('VirtualService', 11, 'spec.http[0].mirror_percent: "mirror_percent" is a deprecated spelling of "mirrorPercent"; Clew reads it as mirrorPercent'),
      warnAt('VirtualService', 11, 'spec.http[0].mirrorPercent: using deprecated setting "mirrorPercent", use "mirrorPercentage" instead'),
    ],
  },
];

/** Accepted by Clew though Istio rejects them. */
const rejectedByIstio: Case[] = [
  {
    name: 'load-balancer warmup without its duration',
    yaml: dr('  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      warmup: {minimumPercent: 10}\n'),
    want: [
      noEffect('DestinationRule', 9, 'spec.trafficPolicy.loadBalancer.warmup', 'new endpoints get their full share of requests at once'),
      at('DestinationRule', 9, 'spec.trafficPolicy.loadBalancer.warmup.duration: is required'),
    ],
  },
  { name: 'WorkloadEntry unix:// directory', yaml: we('  address: unix:///var/run/\n'), want: [at('WorkloadEntry', 6, 'spec.address: /var/run/ is not an absolute path to a file (a unix domain socket is unix:///path or unix://@abstract)')] },
  { name: 'WorkloadEntry unix:// relative path', yaml: we('  address: unix://relative\n'), want: [at('WorkloadEntry', 6, 'spec.address: relative is not an absolute path to a file (a unix domain socket is unix:///path or unix://@abstract)')] },
  { name: 'WorkloadEntry unix:// with ports', yaml: we('  address: unix://@foo\n  ports: {http: 80}\n'), want: [at('WorkloadEntry', 7, 'spec.ports: unix endpoint unix://@foo must not include ports')] },
  {
    name: 'WorkloadEntry invalid port names',
    yaml: we('  address: 1.1.1.1\n  ports:\n    "@": 80\n    Http: 81\n    http: 99999\n'),
    want: [
      at('WorkloadEntry', 8, 'spec.ports["@"]: invalid port name: @'),
      at('WorkloadEntry', 9, 'spec.ports.Http: invalid port name: Http'),
      at('WorkloadEntry', 10, 'spec.ports.http: must be between 1 and 65535'),
    ],
  },
  {
    name: 'delegate VirtualService with gateways, tcp, tls and a nested delegate',
    yaml: vs(`  gateways: [gw]
  http:
  - delegate: {name: other}
  tcp:
  - route: [{destination: {host: db}}]
  tls:
  - match: [{sniHosts: [a.example.com]}]
    route: [{destination: {host: a}}]
`),
    want: [
      at('VirtualService', 6, 'spec.gateways: delegate virtual service must have no gateways specified'),
      at('VirtualService', 8, 'spec.http[0].delegate: delegate virtual service must not have delegate'),
      at('VirtualService', 9, 'spec.tcp: delegate virtual service must have no tcp route specified'),
      at('VirtualService', 11, 'spec.tls: delegate virtual service must have no tls route specified'),
      at('VirtualService', 12, 'spec.tls[0].match[0].sniHosts[0]: SNI host "a.example.com" does not match any host of the virtual service'),
    ],
  },
  {
    name: 'ServiceEntry: several hosts on a TCP port, CIDR with DNS, invalid port name',
    yaml: se('  hosts: [a.example.com, b.example.com]\n  addresses: [10.0.0.0/24]\n  ports: [{number: 5432, name: Postgres, protocol: TCP}]\n  resolution: DNS\n'),
    want: [
      at('ServiceEntry', 7, 'spec.addresses: CIDR addresses are allowed only for NONE/STATIC resolution types'),
      at('ServiceEntry', 8, 'spec.ports[0].name: invalid port name: Postgres'),
      at('ServiceEntry', 8, 'spec.ports[0]: multiple hosts provided with non-HTTP, non-TLS ports'),
    ],
  },
];

runCases(acceptedByIstio);
runCases(rejectedByIstio);

test('deprecated spellings reach the builders under the current name', () => {
  const text = doc('RequestAuthentication', '  jwtRules:\n  - issuer: https://issuer.example.com\n    jwks_uri: https://issuer.example.com/keys\n', 'security.istio.io/v1');
  const r = parseConfigText(text, 'test.yaml');
  assert.deepEqual(r.messages.map(formatMessage), [
    'test.yaml:8: warning: RequestAuthentication default/x: spec.jwtRules[0].jwks_uri: "jwks_uri" is a deprecated spelling of "jwksUri"; Clew reads it as jwksUri',
  ]);
  assert.deepEqual(r.resources[0].spec, { jwtRules: [{ issuer: 'https://issuer.example.com', jwksUri: 'https://issuer.example.com/keys' }] });
});

test('both spellings at once are an error on the line written', () => {
  const r = parseConfigText(vs(`  hosts: [reviews]\n${ROUTE}    mirror: {host: s}\n    mirrorPercent: 5\n    mirror_percent: 50\n`), 'test.yaml');
  assert.ok(r.messages.map(formatMessage).includes('test.yaml:8: VirtualService default/x: spec.http[0]: mirrorPercent and mirror_percent are mutually exclusive'));
});

test('YAML as Kubernetes reads it: an IPv6 address ending in :: inside a flow sequence is a string', () => {
  const r = parseConfigText(se('  hosts: [example.com]\n  addresses: [1.2.3.4, 2001:db8::]\n  exportTo: [.]\n  resolution: NONE\n'), 'test.yaml');
  assert.deepEqual(r.messages.map(formatMessage), []);
  assert.deepEqual((r.resources[0].spec as { addresses: unknown }).addresses, ['1.2.3.4', '2001:db8::']);
  assert.deepEqual((r.resources[0].spec as { exportTo: unknown }).exportTo, ['.']);
});

test('YAML 1.1 booleans: yes/on are true for boolean fields, and an error with a hint for string fields, on the written line', () => {
  const text = dr('  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {useSourceIp: yes}\n  subsets:\n  - name: v1\n    labels: {canary: on}\n');
  const r = parseConfigText(text, 'test.yaml');
  assert.deepEqual(r.messages.map(formatMessage), [
    at('DestinationRule', 12, 'spec.subsets[0].labels.canary: must be a string, got boolean (Kubernetes reads unquoted true/false, yes/no, on/off, y/n as booleans: quote the value)'),
  ]);
  const spec = r.resources[0].spec as { trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: unknown } } } };
  assert.equal(spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp, true);
});

test('YAML as go-yaml v2 reads it: octal and underscores are numbers, base 60 and dates stay strings', () => {
  const r = parseConfigText(doc('Service', '  ports:\n  - {name: http, port: 0_80}\n  - {name: http-a, port: 010}\n  selector: {t: 1:20, d: 2024-01-02}\n'), 'test.yaml');
  assert.deepEqual(r.messages.map(formatMessage), []);
  assert.deepEqual(r.resources[0].spec, { ports: [{ name: 'http', port: 80 }, { name: 'http-a', port: 8 }], selector: { t: '1:20', d: '2024-01-02' } });
});
