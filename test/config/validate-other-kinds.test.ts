import { doc, runCases, type Case } from './cases-helper.js';

const at = (kind: string, line: number, rest: string) => `test.yaml:${line}: ${kind} default/x: ${rest}`;
const se = (spec: string) => doc('ServiceEntry', spec);
const SE = (line: number, rest: string) => at('ServiceEntry', line, rest);
const PORTS = '  ports:\n  - {number: 80, name: http, protocol: HTTP}\n';

const cases: Case[] = [
  { name: 'service entry without hosts', yaml: se(PORTS), want: [SE(5, 'spec.hosts: at least one host is required')] },
  // issue 25: no ports is valid (Istio takes the ports from the traffic)
  { name: 'service entry without ports is valid', yaml: se('  hosts: [api.example.com]\n'), want: [] },
  {
    name: 'STATIC without endpoints',
    yaml: se(`  hosts: [api.example.com]\n${PORTS}  resolution: STATIC\n`),
    want: [SE(5, 'spec.endpoints: at least one endpoint (or a workloadSelector) is required for resolution STATIC')],
  },
  {
    name: 'STATIC endpoint that is not an IP',
    yaml: se(`  hosts: [api.example.com]\n${PORTS}  resolution: STATIC\n  endpoints:\n  - address: api.internal\n`),
    want: [SE(11, 'spec.endpoints[0].address: must be an IP address for resolution STATIC, got "api.internal"')],
  },
  {
    // Istio's webhook rejects this too (validation_test.go "discovery type DNS, non-FQDN host");
    // only its CRD schema lets it through. With endpoints (next case) the wildcard is fine.
    name: 'DNS with a wildcard host and no endpoints',
    yaml: se(`  hosts: ["*.example.com"]\n${PORTS}  resolution: DNS\n`),
    want: [SE(6, 'spec.hosts[0]: wildcard host "*.example.com" is not allowed with resolution DNS without endpoints (there is no name to resolve)')],
  },
  {
    name: 'DNS with a wildcard host and endpoints is valid',
    yaml: se(`  hosts: ["*.example.com"]\n${PORTS}  resolution: DNS\n  endpoints:\n  - address: proxy.example.com\n`),
    want: [],
  },
  {
    name: 'endpoints with resolution NONE',
    yaml: se(`  hosts: [api.example.com]\n${PORTS}  endpoints:\n  - address: 10.0.0.1\n`),
    want: [SE(9, 'spec.endpoints: endpoints are not allowed with resolution NONE')],
  },
  {
    name: 'host "*"',
    yaml: se(`  hosts: ["*"]\n${PORTS}`),
    want: [SE(6, 'spec.hosts[0]: host "*" is not allowed in a service entry')],
  },
  {
    name: 'duplicate port numbers',
    yaml: se('  hosts: [api.example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  - {number: 80, name: http-alt, protocol: HTTP}\n'),
    want: [SE(9, 'spec.ports[1].number: duplicate port number 80')],
  },
  {
    name: 'port without name',
    yaml: se('  hosts: [api.example.com]\n  ports:\n  - {number: 80, protocol: HTTP}\n'),
    want: [SE(8, 'spec.ports[0].name: is required')],
  },
  {
    name: 'endpoint port not declared',
    yaml: se(`  hosts: [api.example.com]\n${PORTS}  resolution: STATIC\n  endpoints:\n  - address: 10.0.0.1\n    ports: {https: 8443}\n`),
    want: [SE(12, 'spec.endpoints[0].ports.https: port "https" is not defined in spec.ports')],
  },
  {
    name: 'unknown resolution',
    yaml: se(`  hosts: [api.example.com]\n${PORTS}  resolution: DNS_LOOKUP\n`),
    want: [SE(9, 'spec.resolution: must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS; got "DNS_LOOKUP"')],
  },
  {
    name: 'invalid address',
    yaml: se(`  hosts: [api.example.com]\n  addresses: [10.0.0.300/24]\n${PORTS}`),
    want: [SE(7, 'spec.addresses[0]: invalid address "10.0.0.300/24" (expected an IP or CIDR)')],
  },
  {
    name: 'unknown port protocol',
    yaml: se('  hosts: [api.example.com]\n  ports:\n  - {number: 80, name: http, protocol: SPDY}\n'),
    want: [SE(8, 'spec.ports[0].protocol: unknown protocol "SPDY" (expected one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, TCP, TLS, UDP)')],
  },
  {
    name: 'workload entry without address',
    yaml: doc('WorkloadEntry', '  labels: {app: vm}\n'),
    want: [at('WorkloadEntry', 5, 'spec.address: is required')],
  },
  {
    name: 'workload entry port out of range',
    yaml: doc('WorkloadEntry', '  address: 10.0.0.5\n  ports:\n    http: 0\n'),
    want: [at('WorkloadEntry', 8, 'spec.ports.http: must be between 1 and 65535')],
  },
  {
    name: 'sidecar with nothing in it',
    yaml: doc('Sidecar', '  workloadSelector:\n    labels: {app: ratings}\n'),
    want: [at('Sidecar', 5, 'spec: at least one of egress, ingress or outboundTrafficPolicy is required')],
  },
  {
    name: 'sidecar egress host without namespace',
    yaml: doc('Sidecar', '  egress:\n  - hosts:\n    - reviews\n'),
    want: [at('Sidecar', 8, 'spec.egress[0].hosts[0]: host "reviews" must be of the form namespace/dnsName')],
  },
  {
    name: 'sidecar catch-all egress not last',
    yaml: doc('Sidecar', '  egress:\n  - hosts: ["./*"]\n  - port: {number: 9080, name: http, protocol: HTTP}\n    hosts: ["istio-system/*"]\n'),
    want: [at('Sidecar', 7, 'spec.egress[0]: the egress listener without a port (the catch-all) must be the last one')],
  },
  {
    name: 'sidecar ingress defaultEndpoint',
    yaml: doc('Sidecar', '  ingress:\n  - port: {number: 9080, name: http, protocol: HTTP}\n    defaultEndpoint: 10.1.1.1:8080\n'),
    want: [
      at('Sidecar', 6, "spec.ingress: is not implemented by Clew and cannot be ignored safely (inbound listeners are built from the workload's ports; these ports, endpoints and TLS settings would not apply); remove it or use Istio"),
      at('Sidecar', 8, 'spec.ingress[0].defaultEndpoint: must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>'),
    ],
  },
  {
    name: 'sidecar outbound mode',
    yaml: doc('Sidecar', '  outboundTrafficPolicy:\n    mode: DENY_ALL\n'),
    want: [at('Sidecar', 7, 'spec.outboundTrafficPolicy.mode: must be one of REGISTRY_ONLY, ALLOW_ANY; got "DENY_ALL"')],
  },
  {
    name: 'service port name outside the convention (warning)',
    yaml: doc('Service', '  selector: {app: x}\n  ports:\n  - name: web\n    port: 80\n'),
    want: ['test.yaml:8: warning: Service default/x: spec.ports[0].name: port name "web" does not follow the <protocol>[-<suffix>] convention (and no appProtocol); port 80 is treated as TCP'],
  },
  {
    name: 'service with two ports, one unnamed',
    yaml: doc('Service', '  ports:\n  - name: http\n    port: 80\n  - port: 81\n    appProtocol: http\n'),
    want: [at('Service', 9, 'spec.ports[1].name: is required when a service has more than one port')],
  },
  {
    name: 'service targetPort out of range',
    yaml: doc('Service', '  ports:\n  - name: http\n    port: 80\n    targetPort: 0\n'),
    want: [at('Service', 9, 'spec.ports[0].targetPort: must be between 1 and 65535')],
  },
  {
    name: 'service protocol HTTP (Kubernetes protocols are L4)',
    yaml: doc('Service', '  ports:\n  - name: http\n    port: 80\n    protocol: HTTP\n'),
    want: [at('Service', 9, 'spec.ports[0].protocol: must be one of TCP, UDP, SCTP; got "HTTP"')],
  },
  {
    name: 'service duplicate port names',
    yaml: doc('Service', '  ports:\n  - name: http\n    port: 80\n  - name: http\n    port: 81\n'),
    want: [at('Service', 9, 'spec.ports[1].name: duplicate port name "http"')],
  },
  {
    name: 'telemetry provider without name',
    yaml: doc('Telemetry', '  tracing:\n  - providers:\n    - {}\n'),
    want: [at('Telemetry', 8, 'spec.tracing[0].providers[0].name: is required')],
  },
  {
    name: 'telemetry unknown field',
    yaml: doc('Telemetry', '  logging: []\n'),
    want: [at('Telemetry', 6, 'spec.logging: unknown field')],
  },
];

runCases(cases);
