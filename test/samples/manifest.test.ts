import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { BOOKINFO_WORKLOADS, HTTPBIN_WORKLOADS, SAMPLE_CONFIG_FILES, samplePath } from '../../samples/manifest.js';

interface Doc { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, any> }

function load(rel: string): Doc[] {
  return parseAllDocuments(readFileSync(samplePath(rel), 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${rel}: ${d.errors.join('; ')}`);
    return d.toJS() as Doc;
  });
}

test('the manifest lists every Bookinfo and httpbin workload with a built script', () => {
  assert.deepEqual(BOOKINFO_WORKLOADS.map((w) => w.name),
    ['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1']);
  for (const w of [...BOOKINFO_WORKLOADS, ...HTTPBIN_WORKLOADS]) {
    assert.ok(existsSync(samplePath(w.script)), `${w.script} exists`);
    assert.equal(w.namespace, 'default');
    assert.equal(`${w.labels.app}-${w.labels.version}`, w.name);
  }
  assert.deepEqual(BOOKINFO_WORKLOADS.filter((w) => w.labels.app === 'reviews').map((w) => w.env.SERVICE_VERSION), ['v1', 'v2', 'v3']);
  assert.deepEqual(HTTPBIN_WORKLOADS.map((w) => [w.name, w.ports, w.labels]), [['httpbin-v1', [8080], { app: 'httpbin', version: 'v1' }]]);
  for (const f of SAMPLE_CONFIG_FILES) assert.ok(existsSync(samplePath(f)), f);
});

test('the platform files declare the Services the workloads need', () => {
  const services = [...load('samples/bookinfo/platform/bookinfo.yaml'), ...load('samples/httpbin/httpbin.yaml')];
  for (const s of services) {
    assert.equal(s.apiVersion, 'v1');
    assert.equal(s.kind, 'Service');
  }
  const byName = new Map(services.map((s) => [s.metadata.name, s]));
  for (const w of [...BOOKINFO_WORKLOADS, ...HTTPBIN_WORKLOADS]) {
    const svc = byName.get(w.labels.app);
    assert.ok(svc, `Service for ${w.name}`);
    assert.deepEqual(svc!.spec.selector, { app: w.labels.app });
    assert.equal(svc!.spec.ports[0].name, 'http');
    assert.ok(w.ports.includes(svc!.spec.ports[0].targetPort ?? svc!.spec.ports[0].port));
  }
  assert.equal(byName.get('httpbin')!.spec.ports[0].port, 8000);
});

test('every subset a VirtualService names exists in destination-rule-all.yaml and has a workload', () => {
  const subsets = new Map<string, Set<string>>();
  for (const dr of load('samples/bookinfo/networking/destination-rule-all.yaml')) {
    assert.equal(dr.kind, 'DestinationRule');
    const names = new Set<string>();
    for (const s of dr.spec.subsets) {
      names.add(s.name);
      assert.ok(BOOKINFO_WORKLOADS.some((w) => w.labels.app === dr.spec.host && w.labels.version === s.labels.version),
        `${dr.spec.host} ${s.name} selects a workload`);
    }
    subsets.set(dr.spec.host, names);
  }
  const dir = samplePath('samples/bookinfo/networking');
  const vsFiles = readdirSync(dir).filter((f) => f.startsWith('virtual-service-'));
  assert.deepEqual(vsFiles.sort(), [
    'virtual-service-all-v1.yaml', 'virtual-service-ratings-test-abort.yaml', 'virtual-service-ratings-test-delay.yaml',
    'virtual-service-reviews-50-v3.yaml', 'virtual-service-reviews-90-10.yaml', 'virtual-service-reviews-jason-v2-v3.yaml',
    'virtual-service-reviews-v3.yaml',
  ]);
  for (const f of vsFiles) {
    for (const vs of load(`samples/bookinfo/networking/${f}`)) {
      assert.equal(vs.kind, 'VirtualService', f);
      for (const route of vs.spec.http) {
        const weights = route.route.map((r: { weight?: number }) => r.weight ?? 100);
        if (route.route.length > 1) assert.equal(weights.reduce((a: number, b: number) => a + b, 0), 100, f);
        for (const r of route.route) assert.ok(subsets.get(r.destination.host)?.has(r.destination.subset), `${f}: ${r.destination.host}/${r.destination.subset}`);
      }
    }
  }
});

test('gateway, fault and circuit-breaker files say what the tasks expect', () => {
  const [gw, vs] = load('samples/bookinfo/networking/bookinfo-gateway.yaml');
  assert.equal(gw.kind, 'Gateway');
  assert.deepEqual(gw.spec.selector, { istio: 'ingressgateway' });
  assert.deepEqual(vs.spec.http[0].match.map((m: { uri: unknown }) => m.uri), [
    { exact: '/productpage' }, { prefix: '/static' }, { exact: '/login' }, { exact: '/logout' }, { prefix: '/api/v1/products' },
  ]);
  const [delay] = load('samples/bookinfo/networking/virtual-service-ratings-test-delay.yaml');
  assert.equal(delay.spec.http[0].match[0].headers['end-user'].exact, 'jason');
  assert.equal(delay.spec.http[0].fault.delay.fixedDelay, '7s');
  const [abort] = load('samples/bookinfo/networking/virtual-service-ratings-test-abort.yaml');
  assert.equal(abort.spec.http[0].fault.abort.httpStatus, 500);
  const [jason] = load('samples/bookinfo/networking/virtual-service-reviews-jason-v2-v3.yaml');
  assert.equal(jason.spec.http[0].route[0].destination.subset, 'v2');
  assert.equal(jason.spec.http[1].route[0].destination.subset, 'v3');
  const [cb] = load('samples/httpbin/destination-rule-circuit-breaker.yaml');
  assert.equal(cb.spec.host, 'httpbin');
  assert.equal(cb.spec.trafficPolicy.connectionPool.tcp.maxConnections, 1);
  assert.equal(cb.spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests, 1);
});
