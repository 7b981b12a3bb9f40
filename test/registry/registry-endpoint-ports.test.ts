/**
 * Pods sharing one address (local mode, pod addressing `port`): each sidecar publishes where it
 * really serves its workload ports (CLEW_ENDPOINT_PORTS, from `--remap-port`), and EDS carries
 * those ports, per subset, so callers reach the right pod.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityFromOptions } from '../../src/proxy/core/bootstrap.js';
import { buildNode, parseNode } from '../../src/xds/node-metadata.js';
import { buildEndpoints } from '../../src/control-plane/builders/build-endpoints.js';
import { kubeService, makePc, proxy, subsetsRule } from '../control-plane/builders/fixtures.js';

function sidecar(name: string, version: string, remap: Record<number, number>, adminPort?: number) {
  return identityFromOptions({
    xdsAddress: '127.0.0.1:15010', id: `${name}.default`, type: 'sidecar', address: '127.0.0.1', interceptionMode: 'NONE',
    labels: { app: 'reviews', version }, serviceAccount: 'reviews', ports: [9080], remapPorts: remap, adminPort, statsPort: 22003,
  } as never);
}

test('a sidecar publishes its remapped workload ports and admin port; the node round-trips them', () => {
  const id = sidecar('reviews-v1', 'v1', { 9080: 22005, 80: 8080 }, 22002);
  assert.deepEqual(id.endpointPorts, { 9080: 22005 }, 'only declared workload ports become endpoint ports');
  const back = parseNode(buildNode(id));
  assert.deepEqual(back.endpointPorts, { 9080: 22005 });
  assert.equal(back.adminPort, 22002);
  assert.equal(back.statsPort, 22003);
  // as per-pod addresses: nothing moved, nothing published
  const plain = identityFromOptions({ xdsAddress: 'x:1', id: 'a.default', address: '127.0.1.1', ports: [9080], adminPort: 15000 } as never);
  assert.equal(plain.endpointPorts, undefined);
  assert.equal(plain.adminPort, undefined);
  const md = buildNode(plain).metadata!;
  assert.equal(md.CLEW_ENDPOINT_PORTS, undefined);
  assert.equal(md.CLEW_ADMIN_PORT, undefined);
  // under capture the pod's ports are its own: a remap never moves endpoints
  const captured = identityFromOptions({ xdsAddress: 'x:1', id: 'a.default', address: '10.0.0.5', ports: [9080], interceptionMode: 'REDIRECT', remapPorts: { 9080: 1 } } as never);
  assert.equal(captured.endpointPorts, undefined);
});

test('bad CLEW_ENDPOINT_PORTS entries are dropped, never used to route', () => {
  const node = buildNode(proxy({ address: '127.0.0.1' }));
  node.metadata!.CLEW_ENDPOINT_PORTS = JSON.stringify({ 9080: 70000, abc: 1, 9090: '2', 9091: 22007 });
  assert.deepEqual(parseNode(node).endpointPorts, { 9091: 22007 });
  node.metadata!.CLEW_ENDPOINT_PORTS = '[1,2]';
  assert.equal(parseNode(node).endpointPorts, undefined);
  node.metadata!.CLEW_ENDPOINT_PORTS = '{not json';
  assert.equal(parseNode(node).endpointPorts, undefined);
});

test('EDS: three pods on 127.0.0.1 are three endpoints at their own ports, per subset', () => {
  const pods = [sidecar('reviews-v1', 'v1', { 9080: 22005 }), sidecar('reviews-v2', 'v2', { 9080: 22012 }), sidecar('reviews-v3', 'v3', { 9080: 22019 })];
  const pc = makePc([kubeService('reviews', [{ name: 'http', port: 9080 }]), subsetsRule('reviews', ['v1', 'v2', 'v3'])], pods);
  const caller = proxy({ name: 'productpage-v1', address: '127.0.0.1', labels: { app: 'productpage' } });
  const host = 'reviews.default.svc.cluster.local';
  const names = [`outbound|9080||${host}`, `outbound|9080|v1|${host}`, `outbound|9080|v2|${host}`, `outbound|9080|v3|${host}`];
  const eps = new Map(buildEndpoints(pc, caller, names).map((r: any) => [r.cluster_name, r.endpoints.flatMap((l: any) => l.lb_endpoints.map((e: any) => {
    const a = e.endpoint.address.socket_address;
    return `${a.address}:${a.port_value}`;
  })).sort()]));
  assert.deepEqual(eps.get(names[0]), ['127.0.0.1:22005', '127.0.0.1:22012', '127.0.0.1:22019']);
  assert.deepEqual(eps.get(names[1]), ['127.0.0.1:22005']);
  assert.deepEqual(eps.get(names[2]), ['127.0.0.1:22012']);
  assert.deepEqual(eps.get(names[3]), ['127.0.0.1:22019']);
});
