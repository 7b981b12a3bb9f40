/**
 * Virtual IPs: Services get ClusterIP-like addresses from the service CIDR, ServiceEntries
 * without addresses get Istio's auto-allocated 240.240.x.y, both stable (hash-placed, kept in a
 * store: the control plane persists them, so a restart gives every service the same address),
 * released on delete; explicit clusterIPs and addresses are kept and never handed out twice;
 * headless Services, NONE resolution and wildcard hosts get none. Through a real control plane:
 * the VIPs survive its restart and reach proxies in listeners and the NDS name table.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalRegistry, VipAllocator, type VipStore } from '../../src/registry/index.js';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { NAME_TABLE_TYPE } from '../../src/xds/type-urls.js';
import { TestAdsClient, LISTENER_TYPE } from '../helpers/ads-client.js';
import type { ConfigResource } from '../../src/config/types.js';

const svc = (name: string, spec: Record<string, unknown> = {}, namespace = 'default'): ConfigResource => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80 }], ...spec },
});
const se = (name: string, hosts: string[], spec: Record<string, unknown> = {}): ConfigResource => ({
  apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name, namespace: 'default' },
  spec: { hosts, ports: [{ number: 443, name: 'tls', protocol: 'TLS' }], resolution: 'DNS', ...spec },
});

class MemStore implements VipStore {
  data: Record<string, string> = {};
  saves = 0;
  load(): Record<string, string> {
    return { ...this.data };
  }
  save(a: Record<string, string>): void {
    this.data = { ...a };
    this.saves++;
  }
}

function addresses(reg: LocalRegistry): Record<string, string[]> {
  return Object.fromEntries(reg.services().map((s) => [s.hostname, s.addresses]));
}

test('Services get stable ClusterIPs, ServiceEntries 240.240.x.y; explicit, headless, NONE and wildcards respected', () => {
  const store = new MemStore();
  const reg = new LocalRegistry(new VipAllocator(store, '10.96.0.0/12'));
  reg.setConfig([
    svc('a'), svc('b'), svc('fixed', { clusterIP: '10.96.0.10' }), svc('headless', { clusterIP: 'None' }), svc('a', {}, 'other'),
    se('ext', ['api.example.com', 'www.example.com']), se('given', ['given.example.com'], { addresses: ['10.9.9.9'] }),
    se('passthrough', ['pt.example.com'], { resolution: 'NONE' }), se('wild', ['*.wild.example.com']),
  ]);
  const got = addresses(reg);
  for (const h of ['a.default.svc.cluster.local', 'b.default.svc.cluster.local', 'a.other.svc.cluster.local']) {
    assert.equal(got[h].length, 1, h);
    const [o1, o2] = got[h][0].split('.').map(Number);
    assert.ok(o1 === 10 && o2 >= 96 && o2 <= 111, `${h}: ${got[h][0]} in 10.96.0.0/12`);
  }
  assert.notEqual(got['a.default.svc.cluster.local'][0], got['a.other.svc.cluster.local'][0]);
  assert.deepEqual(got['fixed.default.svc.cluster.local'], ['10.96.0.10']);
  assert.deepEqual(got['headless.default.svc.cluster.local'], []);
  assert.match(got['api.example.com'][0], /^240\.240\.\d+\.\d+$/);
  assert.match(got['www.example.com'][0], /^240\.240\.\d+\.\d+$/);
  assert.notEqual(got['api.example.com'][0], got['www.example.com'][0]);
  assert.deepEqual(got['given.example.com'], ['10.9.9.9']);
  assert.deepEqual(got['pt.example.com'], []);
  assert.deepEqual(got['*.wild.example.com'], []);
  const all = Object.values(got).flat();
  assert.equal(new Set(all).size, all.length, 'no address twice');
  assert.equal(Object.keys(store.data).length, 5);

  // the same config again (any order), or a new allocator over the same store: the same addresses
  const saves = store.saves;
  reg.setConfig([se('ext', ['api.example.com', 'www.example.com']), svc('b'), svc('a'), svc('a', {}, 'other'), svc('fixed', { clusterIP: '10.96.0.10' })]);
  const again = addresses(reg);
  for (const h of ['a.default.svc.cluster.local', 'b.default.svc.cluster.local', 'api.example.com']) assert.deepEqual(again[h], got[h], h);
  const restarted = new LocalRegistry(new VipAllocator(store));
  restarted.setConfig([svc('a'), svc('b')]);
  assert.deepEqual(addresses(restarted)['b.default.svc.cluster.local'], got['b.default.svc.cluster.local']);
  assert.ok(store.saves > saves, 'the removed ones were released');
  assert.equal(store.data['ServiceEntry/default/api.example.com'], undefined);
});

test('an explicit clusterIP that takes an allocated address moves the allocated service elsewhere', () => {
  const store = new MemStore();
  const reg = new LocalRegistry(new VipAllocator(store));
  reg.setConfig([svc('a')]);
  const ip = addresses(reg)['a.default.svc.cluster.local'][0];
  reg.setConfig([svc('a'), svc('b', { clusterIP: ip })]);
  const now = addresses(reg);
  assert.deepEqual(now['b.default.svc.cluster.local'], [ip]);
  assert.notEqual(now['a.default.svc.cluster.local'][0], ip);
});

test('a bad service CIDR is an error', () => {
  assert.throws(() => new VipAllocator(undefined, '10.96.0.0/40'), /invalid service CIDR/);
  assert.throws(() => new VipAllocator(undefined, 'fd00::/64'), /invalid service CIDR/);
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-vips-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('through the control plane: VIPs kept across a restart, in <vip>_<port> listeners and the NDS name table', async () => {
  fs.writeFileSync(path.join(dir, 'svc.yaml'), `apiVersion: v1
kind: Service
metadata: {name: redis, namespace: default}
spec:
  selector: {app: redis}
  ports:
  - {name: tcp-redis, port: 6379}
`);
  const start = async (): Promise<ControlPlane> => {
    const cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, log: () => undefined });
    await cp.start();
    return cp;
  };
  let cp = await start();
  const vip = cp.registry.serviceByHostname('redis.default.svc.cluster.local')!.addresses[0];
  assert.match(vip, /^10\.(9[6-9]|10\d|11[01])\./);
  assert.ok(fs.readFileSync(path.join(dir, '.clew', 'service-vips.json'), 'utf8').includes(vip));
  const client = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, { id: 'sidecar~10.0.0.9~c.default~default.svc.cluster.local', metadata: { NAMESPACE: 'default', INTERCEPTION_MODE: 'REDIRECT' } });
  try {
    client.subscribe(NAME_TABLE_TYPE, ['*']);
    await client.until(() => !!client.latest.get(NAME_TABLE_TYPE) && !!client.latest.get(LISTENER_TYPE));
    const table = client.latest.get(NAME_TABLE_TYPE)!.resources[0].table;
    assert.deepEqual(table['redis.default.svc.cluster.local'], { ips: [vip], registry: 'Kubernetes', shortname: 'redis', namespace: 'default' });
    assert.ok(client.latest.get(LISTENER_TYPE)!.resources.some((l) => l.name === `${vip}_6379`));
  } finally {
    client.close();
    await cp.stop();
  }
  cp = await start();
  try {
    assert.equal(cp.registry.serviceByHostname('redis.default.svc.cluster.local')!.addresses[0], vip, 'the same ClusterIP after a restart');
  } finally {
    await cp.stop();
  }
});
