import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMessage, parseConfigText, validateResources, type ConfigResource } from '../../src/config/index.js';

function load(text: string, file = 'c.yaml'): ConfigResource[] {
  const r = parseConfigText(text, file);
  assert.deepEqual(r.messages.filter((m) => m.severity === 'error').map(formatMessage), []);
  return r.resources;
}

const VS_REVIEWS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
      weight: 90
    - destination:
        host: reviews.default.svc.cluster.local
        subset: v9
      weight: 10
    mirror:
      host: reviews
      subset: shadow
`;

const DR_REVIEWS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews.default.svc.cluster.local
  subsets:
  - name: v1
  - name: shadow
`;

test('subset not defined by any DestinationRule for the host (IST0101)', () => {
  const msgs = validateResources([...load(VS_REVIEWS, 'vs.yaml'), ...load(DR_REVIEWS, 'dr.yaml')]);
  assert.deepEqual(msgs.map(formatMessage), [
    'vs.yaml:15: warning: VirtualService default/reviews: spec.http[0].route[1].destination.subset: referenced subset "v9" not found in any DestinationRule for host "reviews.default.svc.cluster.local"',
  ]);
  assert.equal(msgs[0].code, 'IST0101');
});

test('without the DestinationRule every subset is missing; a DR in another namespace does not count', () => {
  const other = DR_REVIEWS.replace('name: reviews\n', 'name: reviews\n  namespace: prod\n').replace('host: reviews.default.svc.cluster.local', 'host: reviews');
  const msgs = validateResources([...load(VS_REVIEWS, 'vs.yaml'), ...load(other, 'dr.yaml')]);
  assert.deepEqual(msgs.map((m) => `${m.line} ${m.field}`), [
    '11 spec.http[0].route[0].destination.subset',
    '15 spec.http[0].route[1].destination.subset',
    '19 spec.http[0].mirror.subset',
  ]);
});

test('two VirtualServices for the same host in a namespace (IST0109)', () => {
  const a = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings}\n';
  const b = a.replace('name: a', 'name: b').replace('hosts: [ratings]', 'hosts: [ratings.default.svc.cluster.local]');
  const c = a.replace('name: a', 'name: c').replace('metadata: {', 'metadata: {namespace: other, ');
  const msgs = validateResources([...load(a, 'a.yaml'), ...load(b, 'b.yaml'), ...load(c, 'c.yaml')]);
  assert.deepEqual(msgs.map(formatMessage), [
    'a.yaml:5: warning: VirtualService default/a: spec.hosts[0]: host "ratings.default.svc.cluster.local" is also defined by VirtualService default/b; merge them into one VirtualService',
    'b.yaml:5: warning: VirtualService default/b: spec.hosts[0]: host "ratings.default.svc.cluster.local" is also defined by VirtualService default/a; merge them into one VirtualService',
  ]);
  assert.ok(msgs.every((m) => m.code === 'IST0109'));
});

test('the same resource twice: the later wins and is reported', () => {
  const a = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [ratings]\n  http:\n  - route:\n    - destination: {host: ratings}\n';
  const msgs = validateResources([...load(a, 'one.yaml'), ...load(a, 'two.yaml')]);
  assert.deepEqual(msgs.map(formatMessage), ['two.yaml:2: warning: VirtualService default/a: also defined at one.yaml:2; the later definition replaces it']);
});

test('gateway referenced by a VirtualService must exist', () => {
  const vs = 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: a}\nspec:\n  hosts: [bookinfo.example.com]\n  gateways:\n  - mesh\n  - missing-gw\n  - istio-system/gw\n  http:\n  - route:\n    - destination: {host: ratings}\n';
  const gw = 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\nspec:\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: ["*"]\n';
  const msgs = validateResources([...load(vs, 'vs.yaml'), ...load(gw, 'gw.yaml')]);
  assert.deepEqual(msgs.map(formatMessage), ['vs.yaml:8: warning: VirtualService default/a: spec.gateways[1]: referenced gateway "default/missing-gw" not found']);
});

test('unknown hosts are reported only when the caller knows the registry (IST0174)', () => {
  const resources = [...load(VS_REVIEWS.replace(/subset: \w+\n/g, '\n'), 'vs.yaml'), ...load(DR_REVIEWS.replace('reviews.default', 'nope.default'), 'dr.yaml')];
  assert.deepEqual(validateResources(resources).map(formatMessage), []);
  const msgs = validateResources(resources, { knownHosts: new Set(['reviews.default.svc.cluster.local']) });
  assert.deepEqual(msgs.map(formatMessage), ['dr.yaml:6: warning: DestinationRule default/reviews: spec.host: host "nope.default.svc.cluster.local" does not match any known service']);
  assert.equal(msgs[0].code, 'IST0174');
  const none = validateResources(resources, { knownHosts: new Set() });
  assert.deepEqual(none.map((m) => `${m.code} ${m.line} ${m.field}`), [
    'IST0101 10 spec.http[0].route[0].destination.host',
    'IST0101 14 spec.http[0].route[1].destination.host',
    'IST0101 18 spec.http[0].mirror.host',
    'IST0174 6 spec.host',
  ]);
});

test('ServiceEntry and Service in the set count as known hosts', () => {
  const se = 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext}\nspec:\n  hosts: ["*.example.com"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n';
  const svc = 'apiVersion: v1\nkind: Service\nmetadata: {name: nope}\nspec:\n  ports: [{name: http, port: 80}]\n';
  const dr = 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d}\nspec:\n  host: api.example.com\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: e}\nspec:\n  host: nope\n';
  const msgs = validateResources([...load(se), ...load(svc), ...load(dr)], { knownHosts: new Set() });
  assert.deepEqual(msgs, []);
});
