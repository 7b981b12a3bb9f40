/** AuthorizationPolicy validation: Istio's rules, and what Clew does not implement refused by name. */
import { doc, runCases, type Case } from './cases-helper.js';

const ap = (spec: string) => doc('AuthorizationPolicy', spec, 'security.istio.io/v1');

const cases: Case[] = [
  {
    name: "CUSTOM with a provider is valid (that the provider exists is a check against the mesh config)",
    yaml: ap("  action: CUSTOM\n  provider: {name: ext}\n  rules: [{}]"),
    want: [],
  },
  {
    name: "CUSTOM without a provider name",
    yaml: ap("  action: CUSTOM\n  rules: [{}]"),
    want: [
      "test.yaml:5: AuthorizationPolicy default/x: spec.provider.name: CUSTOM needs the name of an extension provider (envoyExtAuthzHttp or envoyExtAuthzGrpc in the mesh config)",
    ],
  },
  {
    name: "provider without CUSTOM",
    yaml: ap("  provider: {name: ext}"),
    want: [
      "test.yaml:6: AuthorizationPolicy default/x: spec.provider: provider is only allowed with action CUSTOM",
    ],
  },
  {
    name: "bad CIDRs, empty source, bad ports, path templates, unknown and unimplemented when keys",
    yaml: ap("  rules:\n  - from:\n    - source: {ipBlocks: [\"10.0.0.0/33\", \"nope\"]}\n    - {}\n    to:\n    - operation: {ports: [\"0\"], paths: [\"/a/{**}/b\", \"/a/{x}\"]}\n    when:\n    - {key: request.headers}\n    - {key: \"request.auth.claims[groups]\", values: [a]}\n    - {key: source.ip, values: [\"1.2.3.4\"], notValues: [\"bad\"]}\n    - {key: experimental.envoy.filters.x, values: [a]}"),
    want: [
      "test.yaml:8: AuthorizationPolicy default/x: spec.rules[0].from[0].source.ipBlocks[0]: invalid IP address or CIDR block \"10.0.0.0/33\"",
      "test.yaml:8: AuthorizationPolicy default/x: spec.rules[0].from[0].source.ipBlocks[1]: invalid IP address or CIDR block \"nope\"",
      "test.yaml:9: AuthorizationPolicy default/x: spec.rules[0].from[1].source: is required",
      "test.yaml:11: AuthorizationPolicy default/x: spec.rules[0].to[0].operation.ports[0]: invalid port \"0\" (1-65535)",
      "test.yaml:11: AuthorizationPolicy default/x: spec.rules[0].to[0].operation.paths[0]: path template \"/a/{**}/b\": {**} must be the last segment",
      "test.yaml:11: AuthorizationPolicy default/x: spec.rules[0].to[0].operation.paths[1]: path template \"/a/{x}\": a segment must be exactly {*} or {**}",
      "test.yaml:13: AuthorizationPolicy default/x: spec.rules[0].when[0].key: unknown key \"request.headers\" (supported: request.headers[<name>], request.auth.principal|audiences|presenter, request.auth.claims[<name>]..., source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, destination.ip, destination.port, connection.sni)",
      "test.yaml:13: AuthorizationPolicy default/x: spec.rules[0].when[0]: at least one of values or notValues is required",
      "test.yaml:15: AuthorizationPolicy default/x: spec.rules[0].when[2].notValues[0]: invalid IP address or CIDR block \"bad\"",
      "test.yaml:16: AuthorizationPolicy default/x: spec.rules[0].when[3].key: \"experimental.envoy.filters.x\" is not implemented by Clew",
    ],
  },
  {
    name: "a DENY rule with HTTP-only fields and no ports warns that it widens on TCP",
    yaml: ap("  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [POST]}"),
    want: [
      "test.yaml:8: warning: AuthorizationPolicy default/x: spec.rules[0]: on TCP ports the HTTP-only fields of this DENY rule are ignored, so it applies to every TCP connection it otherwise matches; add to.operation.ports to scope it",
    ],
  },
  {
    name: "the same DENY scoped by ports is quiet",
    yaml: ap("  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [POST], ports: [\"8080\"]}"),
    want: [],
  },
  {
    name: "selector and targetRefs are exclusive; only Gateway targets",
    yaml: ap("  selector: {matchLabels: {app: x}}\n  targetRefs: [{kind: Service, name: x}]"),
    want: [
      "test.yaml:5: AuthorizationPolicy default/x: spec: selector and targetRefs are mutually exclusive",
      "test.yaml:7: AuthorizationPolicy default/x: spec.targetRefs[0].kind: only Gateway (gateway.networking.k8s.io) targets are implemented by Clew (got core/Service)",
    ],
  },
  {
    name: "unknown source fields; serviceAccounts not mixed with namespaces",
    yaml: ap("  rules:\n  - from:\n    - source: {serviceAccounts: [a], namespaces: [b], trustDomains: [c]}"),
    want: [
      "test.yaml:8: AuthorizationPolicy default/x: spec.rules[0].from[0].source.trustDomains: is not implemented by Clew and cannot be ignored safely (sources would match whatever their trust domain; write the trust domain into principals instead); remove it or use Istio",
      "test.yaml:8: AuthorizationPolicy default/x: spec.rules[0].from[0].source: serviceAccounts cannot be combined with principals or namespaces",
    ],
  },
  {
    name: "allow-nothing (spec: {}) is valid",
    yaml: ap("  {}"),
    want: [],
  },
];

runCases(cases);
