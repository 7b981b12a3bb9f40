import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalRegistry, type RegistryEvent } from '../../src/registry/index.js';
import { kubeService, proxy, res, workloadProxy } from '../control-plane/builders/fixtures.js';

test('a Service selects proxy workloads by labels in its own namespace only', () => {
  const reg = createLocalRegistry();
  reg.setConfig([kubeService('reviews', [{ name: 'http', port: 9080 }])]);
  reg.upsertProxyWorkload('a', workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.1.1'));
  reg.upsertProxyWorkload('b', workloadProxy('reviews-v2', 'reviews', 'v2', '127.0.1.2'));
  reg.upsertProxyWorkload('c', workloadProxy('ratings-v1', 'ratings', 'v1', '127.0.1.3'));
  reg.upsertProxyWorkload('d', { ...workloadProxy('reviews-x', 'reviews', 'v1', '127.0.1.4'), namespace: 'other' });
  const svc = reg.serviceByHostname('reviews.default.svc.cluster.local');
  assert.ok(svc);
  assert.equal(svc.resolution, 'EDS');
  const eps = reg.instances('reviews.default.svc.cluster.local', 9080).map((i) => `${i.endpoint.address}:${i.endpoint.port}`);
  assert.deepEqual(eps.sort(), ['127.0.1.1:9080', '127.0.1.2:9080']);
  const v2 = reg.instances('reviews.default.svc.cluster.local', 9080).find((i) => i.endpoint.labels.version === 'v2');
  assert.equal(v2?.endpoint.workloadName, 'reviews-v2');
  assert.equal(v2?.endpoint.healthy, true);
});

test('named targetPort resolves through the workload POD_PORTS names; numeric targetPort is used as is', () => {
  const reg = createLocalRegistry();
  reg.setConfig([
    kubeService('httpbin', [{ name: 'http', port: 8000, targetPort: 'web' }]),
    kubeService('echo', [{ name: 'http', port: 80, targetPort: 8080 }]),
  ]);
  reg.upsertProxyWorkload('h', proxy({ name: 'httpbin-1', address: '127.0.2.1', labels: { app: 'httpbin' }, podPorts: [{ name: 'web', containerPort: 8081 }] }));
  reg.upsertProxyWorkload('e', proxy({ name: 'echo-1', address: '127.0.2.2', labels: { app: 'echo' }, podPorts: [{ containerPort: 8080 }] }));
  assert.deepEqual(reg.instances('httpbin.default.svc.cluster.local', 8000).map((i) => i.endpoint.port), [8081]);
  assert.deepEqual(reg.instances('echo.default.svc.cluster.local', 80).map((i) => i.endpoint.port), [8080]);
  assert.equal(reg.serviceByHostname('echo.default.svc.cluster.local')?.ports[0].targetPort, 8080);
});

test('default targetPort is the service port', () => {
  const reg = createLocalRegistry();
  reg.setConfig([kubeService('details', [{ name: 'http', port: 9080 }])]);
  assert.equal(reg.serviceByHostname('details.default.svc.cluster.local')?.ports[0].targetPort, 9080);
});

test('a proxy with no address or no ports registers but yields no endpoints', () => {
  const reg = createLocalRegistry();
  reg.setConfig([kubeService('reviews', [{ name: 'http', port: 9080 }])]);
  reg.upsertProxyWorkload('noaddr', workloadProxy('reviews-a', 'reviews', 'v1', ''));
  reg.upsertProxyWorkload('noports', { ...workloadProxy('reviews-b', 'reviews', 'v1', '127.0.3.1'), podPorts: [] });
  assert.equal(reg.workloads().length, 2);
  assert.deepEqual(reg.instances('reviews.default.svc.cluster.local', 9080), []);
});

test('removeProxyWorkload drops the endpoints', () => {
  const reg = createLocalRegistry();
  reg.setConfig([kubeService('reviews', [{ name: 'http', port: 9080 }])]);
  reg.upsertProxyWorkload('a', workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.1.1'));
  assert.equal(reg.instances('reviews.default.svc.cluster.local', 9080).length, 1);
  reg.removeProxyWorkload('a');
  assert.equal(reg.instances('reviews.default.svc.cluster.local', 9080).length, 0);
  assert.equal(reg.workloads().length, 0);
});

test('WorkloadEntries are selected by Services and ServiceEntries in the same namespace', () => {
  const reg = createLocalRegistry();
  reg.setConfig([
    kubeService('vm', [{ name: 'http', port: 80, targetPort: 8080 }], { app: 'vm' }),
    res('WorkloadEntry', 'vm-1', { address: '10.1.0.1', labels: { app: 'vm' }, locality: 'r1/z1/s1', weight: 3 }),
    res('WorkloadEntry', 'vm-2', { address: '10.1.0.2', labels: { app: 'vm' } }, 'elsewhere'),
    res('ServiceEntry', 'db', {
      hosts: ['db.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC',
      ports: [{ number: 5432, name: 'tcp-pg', protocol: 'TCP' }], workloadSelector: { labels: { role: 'db' } },
    }),
    res('WorkloadEntry', 'db-1', { address: '10.2.0.1', labels: { role: 'db' }, ports: { 'tcp-pg': 6432 } }),
  ]);
  const vm = reg.instances('vm.default.svc.cluster.local', 80);
  assert.deepEqual(vm.map((i) => [i.endpoint.address, i.endpoint.port, i.endpoint.locality, i.endpoint.weight]), [['10.1.0.1', 8080, 'r1/z1/s1', 3]]);
  const db = reg.instances('db.internal', 5432);
  assert.deepEqual(db.map((i) => `${i.endpoint.address}:${i.endpoint.port}`), ['10.2.0.1:6432']);
});

test('ServiceEntry: hosts, port protocols, resolution, location and inline endpoints', () => {
  const reg = createLocalRegistry();
  reg.setConfig([
    res('ServiceEntry', 'httpbin-ext', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
    res('ServiceEntry', 'static', {
      hosts: ['a.example.com', 'b.example.com'], ports: [{ number: 443, name: 'tls', protocol: 'TLS' }, { number: 80, name: 'web', protocol: 'HTTP' }],
      resolution: 'STATIC', location: 'MESH_INTERNAL',
      endpoints: [{ address: '10.0.0.1', ports: { web: 8080 } }, { address: '10.0.0.2', labels: { v: '2' } }],
    }),
  ]);
  const ext = reg.serviceByHostname('httpbin.org');
  assert.equal(ext?.resolution, 'DNS');
  assert.equal(ext?.location, 'MESH_EXTERNAL');
  assert.equal(ext?.ports[0].protocol, 'HTTP');
  // A DNS ServiceEntry without endpoints resolves its own host.
  assert.deepEqual(reg.instances('httpbin.org', 80).map((i) => `${i.endpoint.address}:${i.endpoint.port}`), ['httpbin.org:80']);
  const a = reg.serviceByHostname('a.example.com');
  assert.ok(reg.serviceByHostname('b.example.com'));
  assert.equal(a?.resolution, 'STATIC');
  assert.equal(a?.location, 'MESH_INTERNAL');
  assert.deepEqual(a?.ports.map((p) => p.protocol), ['TLS', 'HTTP']);
  assert.deepEqual(reg.instances('a.example.com', 80).map((i) => `${i.endpoint.address}:${i.endpoint.port}`), ['10.0.0.1:8080', '10.0.0.2:80']);
  assert.deepEqual(reg.instances('a.example.com', 443).map((i) => `${i.endpoint.address}:${i.endpoint.port}`), ['10.0.0.1:443', '10.0.0.2:443']);
});

test('events: services when the set of services or ports changes, endpoints with hostnames otherwise', () => {
  const reg = createLocalRegistry();
  const events: RegistryEvent[] = [];
  const off = reg.onChange((e) => events.push(e));
  reg.setConfig([kubeService('reviews', [{ name: 'http', port: 9080 }]), kubeService('ratings', [{ name: 'http', port: 9080 }])]);
  assert.deepEqual(events, [{ kind: 'services' }]);
  events.length = 0;
  reg.upsertProxyWorkload('a', workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.1.1'));
  // a new service account behind reviews: its clusters' SANs change, a full push as in Istio
  assert.deepEqual(events, [{ kind: 'services' }]);
  events.length = 0;
  // another endpoint with the same account: endpoints only
  reg.upsertProxyWorkload('b', workloadProxy('reviews-v2', 'reviews', 'v2', '127.0.1.2'));
  assert.deepEqual(events, [{ kind: 'endpoints', hostnames: ['reviews.default.svc.cluster.local'] }]);
  events.length = 0;
  // Same identity again: nothing changed, no event.
  reg.upsertProxyWorkload('a', workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.1.1'));
  assert.deepEqual(events, []);
  reg.setConfig([kubeService('reviews', [{ name: 'http', port: 9080 }]), kubeService('ratings', [{ name: 'http', port: 9081 }])]);
  assert.deepEqual(events, [{ kind: 'services' }]);
  events.length = 0;
  reg.removeProxyWorkload('b');
  assert.deepEqual(events, [{ kind: 'endpoints', hostnames: ['reviews.default.svc.cluster.local'] }]);
  off();
  events.length = 0;
  reg.upsertProxyWorkload('a', workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.1.1'));
  assert.deepEqual(events, []);
});

test('short-name resolution', () => {
  const reg = createLocalRegistry();
  reg.setConfig([
    kubeService('reviews', [{ name: 'http', port: 9080 }]),
    res('ServiceEntry', 'httpbin-ext', { hosts: ['httpbin.org'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'DNS' }),
  ]);
  assert.equal(reg.resolveHost('reviews', 'default'), 'reviews.default.svc.cluster.local');
  assert.equal(reg.resolveHost('reviews', 'shop'), 'reviews.shop.svc.cluster.local');
  assert.equal(reg.resolveHost('reviews.default', 'shop'), 'reviews.default.svc.cluster.local');
  assert.equal(reg.resolveHost('reviews.default.svc', 'shop'), 'reviews.default.svc.cluster.local');
  assert.equal(reg.resolveHost('reviews.default.svc.cluster.local', 'shop'), 'reviews.default.svc.cluster.local');
  assert.equal(reg.resolveHost('httpbin.org', 'default'), 'httpbin.org');
  assert.equal(reg.resolveHost('example.com', 'default'), 'example.com');
  assert.equal(reg.resolveHost('*', 'default'), '*');
});

test('endpoint changes of STATIC/DNS ServiceEntries are reported as services (their endpoints live in the Cluster)', () => {
  const reg = createLocalRegistry();
  const se = res('ServiceEntry', 'db', {
    hosts: ['db.internal'], location: 'MESH_INTERNAL', resolution: 'STATIC',
    ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }], workloadSelector: { labels: { role: 'db' } },
  });
  reg.setConfig([se]);
  const events: RegistryEvent[] = [];
  reg.onChange((e) => events.push(e));
  reg.setConfig([se, res('WorkloadEntry', 'db-1', { address: '10.2.0.1', labels: { role: 'db' } })]);
  assert.deepEqual(events, [{ kind: 'services' }]);
});
