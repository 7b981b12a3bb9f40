import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Codes, formatMessage, parseConfigText, resourceKey, toYaml, validateResource } from '../../src/config/index.js';

const MULTI = `# leading comment
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {version: v1}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
spec:
  replicas: 1
---
---
apiVersion: v1
kind: Service
metadata:
  name: reviews
  labels: {app: reviews}
spec:
  selector: {app: reviews}
  ports:
  - name: http
    port: 9080
    targetPort: 9080
`;

test('multi-document file: resources with file/line, ignored kinds, empty documents skipped', () => {
  const r = parseConfigText(MULTI, 'dir/bookinfo.yaml');
  assert.deepEqual(r.messages, []);
  assert.deepEqual(r.resources.map(resourceKey), ['DestinationRule/bookinfo/reviews', 'Service/default/reviews']);
  assert.deepEqual(r.resources.map((x) => x.source), [
    { file: 'dir/bookinfo.yaml', line: 3 },
    { file: 'dir/bookinfo.yaml', line: 22 },
  ]);
  assert.deepEqual(r.ignored, [{ file: 'dir/bookinfo.yaml', line: 14, apiVersion: 'apps/v1', kind: 'Deployment', name: 'reviews-v1' }]);
  assert.deepEqual(r.resources[1].metadata, { name: 'reviews', namespace: 'default', labels: { app: 'reviews' } });
  assert.deepEqual(r.resources[0].spec, { host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
});

test('the caller chooses the default namespace', () => {
  const r = parseConfigText(MULTI, 'a.yaml', { defaultNamespace: 'prod' });
  assert.deepEqual(r.resources.map(resourceKey), ['DestinationRule/bookinfo/reviews', 'Service/prod/reviews']);
});

test('YAML syntax errors carry file and line and stop only their document', () => {
  const text = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n---\napiVersion: v1\nkind: Service\nmetadata: {name: ok}\nspec:\n  ports: [{name: http, port: 80}]\n';
  const r = parseConfigText(text, 'bad.yaml');
  assert.deepEqual(r.messages.map(formatMessage), ['bad.yaml:5: yaml: Map keys must be unique']);
  assert.equal(r.messages[0].code, Codes.yamlSyntax);
  assert.deepEqual(r.resources.map(resourceKey), ['Service/default/ok']);
});

test('bad indentation is a syntax error on its line', () => {
  const r = parseConfigText('apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n    bad: indent\n', 'i.yaml');
  assert.deepEqual(r.messages.map(formatMessage), ['i.yaml:4: yaml: Nested mappings are not allowed in compact mappings']);
  assert.deepEqual(r.resources, []);
});

test('document shape errors', () => {
  const msgs = (t: string) => parseConfigText(t, 's.yaml').messages.map(formatMessage);
  assert.deepEqual(msgs('- a\n- b\n'), ['s.yaml:1: document is not a mapping (expected a Kubernetes object with apiVersion and kind)']);
  assert.deepEqual(msgs('kind: VirtualService\nmetadata: {name: a}\n'), ['s.yaml:1: apiVersion: is required']);
  assert.deepEqual(msgs('apiVersion: networking.istio.io/v1\nmetadata: {name: a}\n'), ['s.yaml:1: kind: is required']);
  assert.deepEqual(msgs('apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  namespace: a\nspec: {}\n'), [
    's.yaml:3: Gateway a/: metadata.name: is required',
  ]);
});

test('unsupported apiVersion, unknown top-level and metadata fields, invalid names', () => {
  const text = `apiVersion: networking.istio.io/v2alpha1
kind: VirtualService
metadata:
  name: Reviews
  labelz: {a: b}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
specs: {}
`;
  const r = parseConfigText(text, 'v.yaml');
  assert.deepEqual(r.messages.map(formatMessage), [
    'v.yaml:1: VirtualService default/Reviews: apiVersion: unsupported apiVersion "networking.istio.io/v2alpha1" for VirtualService (accepted: networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1)',
    "v.yaml:4: VirtualService default/Reviews: metadata.name: Invalid value: \"Reviews\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    'v.yaml:5: VirtualService default/Reviews: metadata.labelz: unknown field',
    'v.yaml:11: VirtualService default/Reviews: specs: unknown field',
  ]);
  // Still returned (the caller decides what to do with a resource that has errors).
  assert.equal(r.resources.length, 1);
});

test('every accepted version of the networking kinds parses; other groups are ignored', () => {
  for (const v of ['v1alpha3', 'v1beta1', 'v1']) {
    const r = parseConfigText(`apiVersion: networking.istio.io/${v}\nkind: Gateway\nmetadata: {name: g}\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n`, 'g.yaml');
    assert.deepEqual(r.messages, [], v);
    assert.equal(r.resources[0].apiVersion, `networking.istio.io/${v}`);
  }
  const knative = parseConfigText('apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: k}\nspec: {}\n', 'k.yaml');
  assert.deepEqual(knative.resources, []);
  assert.equal(knative.ignored[0].kind, 'Service');
  const cm = parseConfigText('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: b}\n', 's.yaml');
  assert.deepEqual(cm.ignored, [{ file: 's.yaml', line: 2, apiVersion: 'v1', kind: 'ConfigMap', name: 's' }]);
});

test('kind: List items are loaded one by one, with their own lines', () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
  spec:
    ports: [{name: http, port: -1}]
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
`;
  const r = parseConfigText(text, 'l.yaml');
  assert.deepEqual(r.resources.map(resourceKey), ['Service/default/a']);
  assert.deepEqual(r.messages.map(formatMessage), ['l.yaml:8: Service default/a: spec.ports[0].port: must be between 1 and 65535']);
  assert.deepEqual(r.ignored.map((i) => [i.kind, i.line]), [['ConfigMap', 10]]);
});

test('quoted keys in paths and lines inside flow collections', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: d
spec:
  host: reviews
  subsets:
  - name: v1
    labels: {"app.kubernetes.io/version": 1}
`;
  const r = parseConfigText(text, 'q.yaml');
  assert.deepEqual(r.messages.map(formatMessage), ['q.yaml:9: DestinationRule default/d: spec.subsets[0].labels["app.kubernetes.io/version"]: must be a string, got integer 1']);
});

test('toYaml writes apiVersion/kind/metadata/spec and round-trips through the parser', () => {
  const r = parseConfigText(MULTI, 'a.yaml');
  const yaml = toYaml(r.resources);
  assert.ok(!yaml.includes('source'));
  assert.ok(!yaml.includes('a.yaml'));
  const again = parseConfigText(yaml, 'b.yaml');
  assert.deepEqual(again.messages, []);
  assert.deepEqual(
    again.resources.map((x) => ({ ...x, source: undefined })),
    r.resources.map((x) => ({ ...x, source: undefined })),
  );
  assert.match(yaml, /^apiVersion: networking.istio.io\/v1beta1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: bookinfo\n/);
});

test('validateResource works on copies and on resources without a source', () => {
  const r = parseConfigText('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\nspec:\n  hosts: [a.example.com]\n  ports:\n  - {number: 99999, name: x}\n', 's.yaml');
  const want = 's.yaml:7: ServiceEntry default/s: spec.ports[0].number: must be between 1 and 65535';
  assert.deepEqual(r.messages.map(formatMessage), [want]);
  // A shallow copy (as a store might make) keeps field lines.
  assert.deepEqual(validateResource({ ...r.resources[0] }).map(formatMessage), [want]);
  const bare = { ...r.resources[0], source: undefined };
  assert.deepEqual(validateResource(bare).map(formatMessage), [':0: ServiceEntry default/s: spec.ports[0].number: must be between 1 and 65535']);
});
