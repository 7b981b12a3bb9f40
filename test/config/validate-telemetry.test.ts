import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMessage, parseConfigText, validateResources, applyMeshConfig } from '../../src/config/index.js';
import { doc, runCases, type Case } from './cases-helper.js';

const at = (line: number, rest: string) => `test.yaml:${line}: Telemetry default/x: ${rest}`;
const tel = (spec: string) => doc('Telemetry', spec);
const noEffect = (line: number, field: string, why: string) =>
  `test.yaml:${line}: warning: Telemetry default/x: ${field}: has no effect: Clew does not implement this field yet (${why})`;

const cases: Case[] = [
  {
    name: 'a full valid Telemetry (v1alpha1) has no messages',
    yaml: doc('Telemetry', `  selector:
    matchLabels: {app: reviews}
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 12.5
    disableSpanReporting: false
    match: {mode: CLIENT}
    customTags:
      env: {environment: {name: ENV, defaultValue: dev}}
      user: {header: {name: end-user}}
      team: {literal: {value: bookinfo}}
  accessLogging:
  - providers: [{name: envoy}]
    disabled: false
    match: {mode: SERVER}
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT, mode: CLIENT_AND_SERVER}
      disabled: false
      tagOverrides:
        request_host: {value: request.host}
        request_protocol: {operation: REMOVE}
    - match: {customMetric: my_metric}
      disabled: true
`, 'telemetry.istio.io/v1alpha1'),
    want: [],
  },
  { name: 'sampling above 100', yaml: tel('  tracing:\n  - randomSamplingPercentage: 150\n'), want: [at(7, 'spec.tracing[0].randomSamplingPercentage: must be between 0 and 100')] },
  { name: 'sampling as a string', yaml: tel('  tracing:\n  - randomSamplingPercentage: "10%"\n'), want: [at(7, 'spec.tracing[0].randomSamplingPercentage: must be a number, got string "10%"')] },
  { name: 'unknown workload mode', yaml: tel('  tracing:\n  - match: {mode: BOTH}\n'), want: [at(7, 'spec.tracing[0].match.mode: must be one of CLIENT_AND_SERVER, CLIENT, SERVER; got "BOTH"')] },
  {
    name: 'custom tag without a kind, and with two',
    yaml: tel('  tracing:\n  - customTags:\n      a: {}\n      b: {literal: {value: x}, header: {name: z}}\n'),
    want: [at(8, 'spec.tracing[0].customTags.a: must set one of literal, environment, header or formatter'), at(9, 'spec.tracing[0].customTags.b: literal and header are mutually exclusive')],
  },
  { name: 'custom tag header without name', yaml: tel('  tracing:\n  - customTags:\n      a: {header: {defaultValue: x}}\n'), want: [at(8, 'spec.tracing[0].customTags.a.header.name: is required')] },
  { name: 'provider with an empty name', yaml: tel('  accessLogging:\n  - providers: [{name: ""}]\n'), want: [at(7, 'spec.accessLogging[0].providers[0].name: must not be empty')] },
  {
    name: 'provider listed twice (warning)',
    yaml: tel('  accessLogging:\n  - providers:\n    - name: envoy\n    - name: envoy\n'),
    want: ['test.yaml:9: warning: Telemetry default/x: spec.accessLogging[0].providers[1].name: provider "envoy" is listed twice'],
  },
  { name: 'unknown metric', yaml: tel('  metrics:\n  - overrides:\n    - match: {metric: REQUEST_BYTES}\n'), want: [at(8, 'spec.metrics[0].overrides[0].match.metric: must be one of ALL_METRICS, REQUEST_COUNT, REQUEST_DURATION, REQUEST_SIZE, RESPONSE_SIZE, TCP_OPENED_CONNECTIONS, TCP_CLOSED_CONNECTIONS, TCP_SENT_BYTES, TCP_RECEIVED_BYTES, GRPC_REQUEST_MESSAGES, GRPC_RESPONSE_MESSAGES; got "REQUEST_BYTES"')] },
  { name: 'metric and customMetric together', yaml: tel('  metrics:\n  - overrides:\n    - match: {metric: REQUEST_COUNT, customMetric: x}\n'), want: [at(8, 'spec.metrics[0].overrides[0].match: metric and customMetric are mutually exclusive')] },
  {
    name: 'tag override UPSERT without value, REMOVE with value, unknown operation',
    yaml: tel('  metrics:\n  - overrides:\n    - tagOverrides:\n        a: {operation: UPSERT}\n        b: {operation: REMOVE, value: x}\n        c: {operation: DELETE}\n'),
    want: [
      at(9, 'spec.metrics[0].overrides[0].tagOverrides.a: value must be set when operation is UPSERT'),
      at(10, 'spec.metrics[0].overrides[0].tagOverrides.b.value: value must not be set when operation is REMOVE'),
      at(11, 'spec.metrics[0].overrides[0].tagOverrides.c.operation: must be one of UPSERT, REMOVE; got "DELETE"'),
    ],
  },
  { name: 'tag override with no operation defaults to UPSERT', yaml: tel('  metrics:\n  - overrides:\n    - tagOverrides:\n        a: {}\n'), want: [at(9, 'spec.metrics[0].overrides[0].tagOverrides.a: value must be set when operation is UPSERT')] },
  { name: 'reporting interval', yaml: tel('  metrics:\n  - reportingInterval: 5 seconds\n'), want: [noEffect(7, 'spec.metrics[0].reportingInterval', 'TCP metrics are reported when a connection closes'), at(7, 'spec.metrics[0].reportingInterval: invalid duration "5 seconds" (expected Go syntax such as 1s, 100ms, 1m30s)')] },
  { name: 'access log disabled as a string', yaml: tel('  accessLogging:\n  - disabled: "yes"\n'), want: [at(7, 'spec.accessLogging[0].disabled: must be a boolean, got string "yes"')] },
  { name: 'empty filter expression', yaml: tel('  accessLogging:\n  - filter: {expression: ""}\n'), want: [at(7, 'spec.accessLogging[0].filter.expression: must not be empty')] },
  { name: 'selector and targetRef together', yaml: tel('  selector: {matchLabels: {app: a}}\n  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\n'), want: [at(5, 'spec: selector and targetRef are mutually exclusive')] },
  {
    name: 'targetRef to another namespace, and an unsupported kind',
    yaml: tel('  targetRefs:\n  - {kind: Gateway, group: gateway.networking.k8s.io, name: gw, namespace: other}\n  - {kind: Deployment, group: gateway.networking.k8s.io, name: d}\n'),
    want: [
      at(7, 'spec.targetRefs[0].namespace: cross namespace referencing is not currently supported'),
      at(8, 'spec.targetRefs[1].kind: kind "Deployment" is not supported for group "gateway.networking.k8s.io" (expected Gateway or GatewayClass)'),
    ],
  },
  { name: 'wildcard in a selector', yaml: tel('  selector:\n    matchLabels: {app: "*"}\n'), want: [at(7, 'spec.selector.matchLabels.app: wildcard not allowed in label value match')] },
  { name: 'snake_case field', yaml: tel('  access_logging: []\n'), want: [at(6, 'spec.access_logging: unknown field (did you mean "accessLogging"?)')] },
  {
    name: 'an old apiVersion',
    yaml: doc('Telemetry', '  tracing: []\n', 'telemetry.istio.io/v1beta2'),
    want: ['test.yaml:1: Telemetry default/x: apiVersion: unsupported apiVersion "telemetry.istio.io/v1beta2" for Telemetry (accepted: telemetry.istio.io/v1alpha1, telemetry.istio.io/v1)'],
  },
];

runCases(cases);

const TELEMETRIES = `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: a, namespace: default}
spec:
  tracing:
  - providers: [{name: zipkin}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: b, namespace: default}
spec:
  accessLogging:
  - providers: [{name: envoy}, {name: otel-als}]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: c, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: d, namespace: default}
spec:
  selector: {matchLabels: {app: reviews}}
`;

test('cross checks: two selector-less Telemetries in a namespace (IST0160), two with one selector (IST0159)', () => {
  const r = parseConfigText(TELEMETRIES, 't.yaml');
  assert.deepEqual(r.messages, []);
  const msgs = validateResources(r.resources);
  assert.deepEqual(msgs.map((m) => `${m.code} ${formatMessage(m)}`), [
    'IST0160 t.yaml:2: warning: Telemetry default/a: namespace "default" has other Telemetry resources without a workload selector (default/b); only one of them applies',
    'IST0160 t.yaml:9: warning: Telemetry default/b: namespace "default" has other Telemetry resources without a workload selector (default/a); only one of them applies',
    'IST0159 t.yaml:19: warning: Telemetry default/c: spec.selector: selects the same workloads as Telemetry default/d; only one of them applies',
    'IST0159 t.yaml:25: warning: Telemetry default/d: spec.selector: selects the same workloads as Telemetry default/c; only one of them applies',
  ]);
});

test('cross checks with a mesh config: providers must be extension providers (IST0101), Istio\'s built-ins included', () => {
  const r = parseConfigText(TELEMETRIES, 't.yaml');
  const mesh = applyMeshConfig({ extensionProviders: [{ name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411 } }] });
  const msgs = validateResources(r.resources, { meshConfig: mesh }).filter((m) => m.code === 'IST0101');
  assert.deepEqual(msgs.map(formatMessage), [
    't.yaml:13: warning: Telemetry default/b: spec.accessLogging[0].providers[1].name: provider "otel-als" is not defined in the mesh config\'s extensionProviders (prometheus, stackdriver, envoy, zipkin); it is ignored',
  ]);
  // without a mesh config nothing is known about providers
  assert.deepEqual(validateResources(r.resources).filter((m) => m.code === 'IST0101'), []);
});
