import { doc, runCases, type Case } from './cases-helper.js';

const dr = (spec: string) => doc('DestinationRule', spec);
const at = (line: number, rest: string) => `test.yaml:${line}: DestinationRule default/x: ${rest}`;
const warnAt = (line: number, rest: string) => `test.yaml:${line}: warning: DestinationRule default/x: ${rest}`;
/** host on line 6, `trafficPolicy:` on 7, its first field on 8. */
const policy = (tp: string) => dr(`  host: reviews\n  trafficPolicy:\n${tp}`);

const cases: Case[] = [
  { name: 'host missing', yaml: dr('  subsets: []\n'), want: [at(5, 'spec.host: is required')] },
  {
    name: 'subset without name',
    yaml: dr('  host: reviews\n  subsets:\n  - labels: {version: v1}\n'),
    want: [at(8, 'spec.subsets[0].name: is required')],
  },
  {
    name: 'duplicate subset names',
    yaml: dr('  host: reviews\n  subsets:\n  - name: v1\n  - name: v1\n'),
    want: [at(9, 'spec.subsets[1].name: duplicate subset name "v1"')],
  },
  {
    name: 'subset name not a DNS label',
    yaml: dr('  host: reviews\n  subsets:\n  - name: V1_beta\n'),
    want: [at(8, 'spec.subsets[0].name: invalid subset name "V1_beta" (must be a DNS-1123 label)')],
  },
  {
    name: 'negative maxConnections',
    yaml: policy('    connectionPool:\n      tcp:\n        maxConnections: -1\n'),
    want: [at(10, 'spec.trafficPolicy.connectionPool.tcp.maxConnections: must be >= 0')],
  },
  {
    name: 'negative http1MaxPendingRequests',
    yaml: policy('    connectionPool:\n      http:\n        http1MaxPendingRequests: -5\n'),
    want: [at(10, 'spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests: must be >= 0')],
  },
  {
    name: 'negative maxRequestsPerConnection in a subset policy',
    yaml: dr('  host: reviews\n  subsets:\n  - name: v1\n    trafficPolicy:\n      connectionPool:\n        http: {maxRequestsPerConnection: -1}\n'),
    want: [at(11, 'spec.subsets[0].trafficPolicy.connectionPool.http.maxRequestsPerConnection: must be >= 0')],
  },
  {
    name: 'empty connection pool',
    yaml: policy('    connectionPool: {}\n'),
    want: [at(8, 'spec.trafficPolicy.connectionPool: must set tcp or http')],
  },
  {
    name: 'connectTimeout below 1ms',
    yaml: policy('    connectionPool:\n      tcp:\n        connectTimeout: 0.5ms\n'),
    want: [at(10, 'spec.trafficPolicy.connectionPool.tcp.connectTimeout: must be >= 1ms')],
  },
  {
    name: 'consecutiveErrors is deprecated (warning)',
    yaml: policy('    outlierDetection:\n      consecutiveErrors: 5\n      interval: 1m\n'),
    want: [
      'test.yaml:9: warning: DestinationRule default/x: spec.trafficPolicy.outlierDetection.consecutiveErrors: consecutiveErrors is deprecated; use consecutive5xxErrors (or consecutiveGatewayErrors)',
    ],
  },
  {
    name: 'maxEjectionPercent above 100',
    yaml: policy('    outlierDetection:\n      consecutive5xxErrors: 5\n      maxEjectionPercent: 101\n'),
    want: [at(10, 'spec.trafficPolicy.outlierDetection.maxEjectionPercent: must be between 0 and 100')],
  },
  {
    name: 'outlier interval not a duration',
    yaml: policy('    outlierDetection:\n      interval: 1x\n'),
    want: [at(9, 'spec.trafficPolicy.outlierDetection.interval: invalid duration "1x" (expected Go syntax such as 1s, 100ms, 1m30s)')],
  },
  {
    name: 'unknown load balancer',
    yaml: policy('    loadBalancer:\n      simple: ROUND_ROBBIN\n'),
    want: [at(9, 'spec.trafficPolicy.loadBalancer.simple: must be one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST; got "ROUND_ROBBIN"')],
  },
  {
    name: 'simple and consistentHash',
    yaml: policy('    loadBalancer:\n      simple: RANDOM\n      consistentHash: {useSourceIp: true}\n'),
    want: [at(8, 'spec.trafficPolicy.loadBalancer: simple and consistentHash are mutually exclusive')],
  },
  {
    name: 'consistentHash without a key',
    yaml: policy('    loadBalancer:\n      consistentHash:\n        minimumRingSize: 1024\n'),
    want: [
      at(9, 'spec.trafficPolicy.loadBalancer.consistentHash: must set one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName'),
      warnAt(10, "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead"),
    ],
  },
  {
    name: 'consistentHash with two keys',
    yaml: policy('    loadBalancer:\n      consistentHash:\n        httpHeaderName: x-user\n        useSourceIp: true\n'),
    want: [at(9, 'spec.trafficPolicy.loadBalancer.consistentHash: httpHeaderName and useSourceIp are mutually exclusive')],
  },
  {
    name: 'locality distribution not adding up to 100',
    yaml: policy('    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us-west/*\n          to: {"us-west/*": 80, "us-east/*": 10}\n'),
    want: [at(12, 'spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: weights must add up to 100, got 90')],
  },
  {
    name: 'MUTUAL TLS without client certificate',
    yaml: policy('    tls:\n      mode: MUTUAL\n'),
    want: [
      at(8, 'spec.trafficPolicy.tls.clientCertificate: client certificate required for mutual tls'),
      at(8, 'spec.trafficPolicy.tls.privateKey: private key required for mutual tls'),
    ],
  },
  {
    name: 'MUTUAL without certificates in a port-level and a subset policy',
    yaml: dr('  host: reviews\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 9080}\n      tls: {mode: MUTUAL, clientCertificate: /c.pem}\n  subsets:\n  - name: v1\n    labels: {version: v1}\n    trafficPolicy:\n      tls: {mode: MUTUAL, privateKey: /k.pem}\n'),
    want: [
      at(10, 'spec.trafficPolicy.portLevelSettings[0].tls.privateKey: private key required for mutual tls'),
      at(15, 'spec.subsets[0].trafficPolicy.tls.clientCertificate: client certificate required for mutual tls'),
    ],
  },
  {
    name: 'credentialName with files; credentialName without workloadSelector (warning)',
    yaml: policy('    tls:\n      mode: SIMPLE\n      credentialName: upstream-ca\n      caCertificates: /ca.pem\n'),
    want: [
      warnAt(10, 'spec.trafficPolicy.tls.credentialName: credentialName applies at gateways; sidecars use it only when the DestinationRule has a workloadSelector'),
      at(11, 'spec.trafficPolicy.tls.caCertificates: cannot specify client certificates or CA certificate or CA CRL If credentialName is set'),
    ],
  },
  {
    name: 'insecureSkipVerify with a CA or SANs',
    yaml: policy('    tls:\n      mode: SIMPLE\n      insecureSkipVerify: true\n      caCertificates: /ca.pem\n      subjectAltNames: [httpbin.org]\n'),
    want: [
      at(11, 'spec.trafficPolicy.tls.caCertificates: cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true'),
      at(12, 'spec.trafficPolicy.tls.subjectAltNames: cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true'),
    ],
  },
  {
    name: 'ISTIO_MUTUAL with certificate files (warning: no effect); sni and subjectAltNames are fine',
    yaml: policy('    tls:\n      mode: ISTIO_MUTUAL\n      clientCertificate: /c.pem\n      sni: reviews.default.svc.cluster.local\n      subjectAltNames: [spiffe://cluster.local/ns/default/sa/reviews]\n'),
    want: [warnAt(10, "spec.trafficPolicy.tls.clientCertificate: has no effect with mode ISTIO_MUTUAL (the workload's own Istio certificate is used)")],
  },
  {
    name: 'unknown TLS mode',
    yaml: policy('    tls:\n      mode: STRICT\n'),
    want: [at(9, 'spec.trafficPolicy.tls.mode: must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL; got "STRICT"')],
  },
  {
    name: 'duplicate port-level settings',
    yaml: policy('    portLevelSettings:\n    - port: {number: 80}\n      loadBalancer: {simple: RANDOM}\n    - port: {number: 80}\n      loadBalancer: {simple: ROUND_ROBIN}\n'),
    want: [at(11, 'spec.trafficPolicy.portLevelSettings[1].port: duplicate port-level settings for port 80')],
  },
  {
    name: 'port-level settings without port',
    yaml: policy('    portLevelSettings:\n    - loadBalancer: {simple: RANDOM}\n'),
    want: [at(9, 'spec.trafficPolicy.portLevelSettings[0].port: is required')],
  },
  {
    name: 'invalid host',
    yaml: dr('  host: reviews..default\n'),
    want: [at(6, 'spec.host: invalid host "reviews..default"')],
  },
];

runCases(cases);
