/**
 * Pod addressing (src/local/pod-addressing*.ts): the mode's choice (flag, environment, what the
 * machine can do) and per-pod ports on 127.0.0.1: distinct, in range, stable, skipping ports
 * someone else has, never shared between two demos' worth of pods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { choosePodAddressingMode, parsePodAddressingMode, probeLoopbackIp } from '../../src/local/pod-addressing.js';
import { firstPortFor, portAddressing, PORT_RANGE } from '../../src/local/pod-addressing-port.js';
import { selectPodAddressing } from '../../src/local/pod-addressing-select.js';
import { LocalError } from '../../src/local/local-errors.js';
import { planPod, sidecarArgs, appEnv, describePod } from '../../src/local/local-pod.js';
import { isPortFree } from '../../src/local/local-ports.js';
import { startFixture, tempStateDir } from './local-test-helpers.js';

// this file's own port range: test files run in parallel with separate state dirs
process.env.CLEW_LOCAL_FIRST_PORT = '24000';
process.env.CLEW_LOCAL_FIRST_BLOCK = '30';

const noProbe = (): never => assert.fail('the machine is not probed when the mode is given');

test('the mode: --pod-addressing, else $CLEW_POD_ADDRESSING, else loopback-ip where 127.0.1.1 binds, else port', async () => {
  assert.deepEqual(await choosePodAddressingMode('port', { CLEW_POD_ADDRESSING: 'loopback-ip' }, noProbe), { mode: 'port', reason: 'set by --pod-addressing' });
  assert.deepEqual(await choosePodAddressingMode(undefined, { CLEW_POD_ADDRESSING: 'Port' }, noProbe), { mode: 'port', reason: 'set by $CLEW_POD_ADDRESSING' });
  const mac = await choosePodAddressingMode(undefined, {}, async () => ({ ok: false, error: 'EADDRNOTAVAIL' }));
  assert.equal(mac.mode, 'port');
  assert.match(mac.reason, /127\.0\.1\.1 cannot be bound here \(EADDRNOTAVAIL\)/);
  assert.equal((await choosePodAddressingMode(undefined, {}, async () => ({ ok: true }))).mode, 'loopback-ip');
  assert.throws(() => parsePodAddressingMode('ip', '--pod-addressing'), (e: unknown) => e instanceof LocalError && e.code === 'CLEW_LOCAL_BAD_ARGUMENT'
    && /--pod-addressing: unknown pod addressing "ip" \(expected loopback-ip or port\)/.test(e.message));
  await assert.rejects(choosePodAddressingMode(undefined, { CLEW_POD_ADDRESSING: 'netns' }), /\$CLEW_POD_ADDRESSING: unknown pod addressing "netns"/);
  // the real probe: Linux routes 127/8 to lo
  if (process.platform === 'linux') {
    assert.deepEqual(await probeLoopbackIp(), { ok: true });
    assert.equal((await selectPodAddressing(undefined, {})).mode, 'loopback-ip');
  }
  const none = await probeLoopbackIp('192.0.2.1'); // TEST-NET-1: no interface has it
  assert.equal(none.ok, false);
});

test('port mode: a pod on 127.0.0.1 gets distinct leased ports; its sidecar binds and publishes them', async () => {
  const dir = tempStateDir();
  const addressing = await selectPodAddressing('port');
  const plan = await planPod({
    name: 'web', namespace: 'shop', labels: { app: 'web' }, serviceAccount: 'web', ports: [9080, 9090],
    app: { command: 'true', args: [] }, xdsAddress: '127.0.0.1:15010',
  }, dir, addressing);
  try {
    assert.equal(plan.address, '127.0.0.1');
    const all = [...Object.values(plan.proxyPorts), ...plan.inboundPorts.values(), ...plan.appPorts.values()];
    assert.equal(all.length, 9);
    assert.equal(new Set(all).size, 9, `distinct: ${all}`);
    assert.deepEqual(all, Array.from({ length: 9 }, (_, i) => 24000 + i), 'the lowest free ports from the start of the range, in order');
    for (const p of all) assert.ok(await isPortFree('127.0.0.1', p), `${p} is bindable`);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('port-')).sort(), all.map((p) => `port-${p}`).sort());
    const args = sidecarArgs(plan);
    const val = (f: string): string => args[args.indexOf(f) + 1];
    assert.equal(val('--address'), '127.0.0.1');
    assert.equal(val('--outbound-port'), String(plan.proxyPorts.outbound));
    assert.equal(val('--admin-port'), String(plan.proxyPorts.admin));
    assert.equal(val('--stats-port'), String(plan.proxyPorts.stats));
    assert.equal(val('--ready-port'), String(plan.proxyPorts.ready));
    const remaps = args.flatMap((a, i) => (a === '--remap-port' ? [args[i + 1]] : []));
    assert.deepEqual(remaps, [`9080=${plan.inboundPorts.get(9080)}`, `9090=${plan.inboundPorts.get(9090)}`]);
    assert.deepEqual(args.flatMap((a, i) => (a === '--port' ? [args[i + 1]] : [])), ['9080', '9090'], 'the workload keeps its own ports');
    const env = appEnv(plan, {});
    assert.equal(env.HTTP_PROXY, `http://127.0.0.1:${plan.proxyPorts.outbound}`);
    assert.equal(env.PORT, String(plan.appPorts.get(9080)));
    assert.ok(describePod(plan).includes(`  port 9080: sidecar inbound 127.0.0.1:${plan.inboundPorts.get(9080)} -> app 127.0.0.1:${plan.appPorts.get(9080)}`));
  } finally {
    plan.network.release();
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('port-')), [], 'released');
});

test('port mode: ports given are kept (and must be free), ports someone else has are skipped, a restart gets the same ports', async () => {
  const dir = tempStateDir();
  const addressing = portAddressing('test');
  const req = { owner: 'a.default', ports: [8080], app: true };
  const first = await addressing.allocate(req, dir);
  const ports = [...Object.values(first.proxyPorts), ...first.inboundPorts.values(), ...first.appPorts.values()];
  first.release();
  const again = await addressing.allocate(req, dir);
  assert.deepEqual([...Object.values(again.proxyPorts), ...again.inboundPorts.values(), ...again.appPorts.values()], ports, 'stable across restarts');
  again.release();
  // a stranger's service on the first port of the range: skipped, and its lease not kept
  const stranger = createServer();
  await new Promise<void>((r) => stranger.listen(24000, '127.0.0.1', () => r()));
  try {
    const n = await addressing.allocate(req, dir);
    assert.ok(!Object.values(n.proxyPorts).includes(24000) && ![...n.inboundPorts.values(), ...n.appPorts.values()].includes(24000));
    assert.equal(existsSync(`${dir}/port-24000`), false);
    n.release();
    const fixed = await addressing.allocate({ ...req, proxyPorts: { admin: 15999 } }, dir);
    assert.equal(fixed.proxyPorts.admin, 15999);
    fixed.release();
    await assert.rejects(addressing.allocate({ ...req, proxyPorts: { admin: 24000 } }, dir),
      (e: unknown) => e instanceof LocalError && e.code === 'CLEW_LOCAL_PORT_IN_USE' && /127\.0\.0\.1:24000 \(a\.default admin port\)/.test(e.message));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('port-')), [], 'a failed allocation gives back what it took');
  } finally {
    stranger.close();
  }
});

test('two demos\' worth of pods in port mode never share a port, nor take one another service has', { timeout: 30_000 }, async () => {
  const dir = tempStateDir();
  const other = tempStateDir();
  // another local service inside the range
  const stranger = createServer();
  await new Promise<void>((r) => stranger.listen(24003, '127.0.0.1', () => r()));
  const env = { CLEW_STATE_DIR: dir, CLEW_LOCAL_FIRST_PORT: '24000', BIND: '1' };
  // two demos' worth planned at the same moment by two processes of one user (one state dir)
  const a = startFixture('fixture-pod-alloc', [], env);
  const b = startFixture('fixture-pod-alloc', [], env);
  const procs = [a, b];
  try {
    const [pa, pb] = (await Promise.all([a.json, b.json])) as Record<string, number[]>[];
    // a third, of another state dir (another user), starting where they are: their bound ports are skipped
    const c = startFixture('fixture-pod-alloc', [], { ...env, CLEW_STATE_DIR: other, BIND: '0' });
    procs.push(c);
    const pc = (await c.json) as Record<string, number[]>;
    const all = [pa, pb, pc].flatMap((d) => Object.values(d).flat());
    assert.equal(all.length, 3 * (7 * 7 + 5), 'each demo: seven pods with an app (5 sidecar ports, inbound, app) and a client');
    const dup = all.filter((p, i) => all.indexOf(p) !== i);
    assert.deepEqual(dup, [], 'no port is any two pods\'');
    assert.ok(!all.includes(24003), 'the other service\'s port is skipped');
    for (const p of all) assert.ok(p >= PORT_RANGE.first && p <= PORT_RANGE.last, `${p} in range`);
  } finally {
    for (const p of procs) p.proc.stdin!.end();
    await Promise.all(procs.map((p) => p.exited));
    stranger.close();
  }
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('port-')), [], 'leases go when their owners exit');
});

test('the scan starts at $CLEW_LOCAL_FIRST_PORT, else at a place of the state dir\'s own', () => {
  assert.equal(firstPortFor('/x', { CLEW_LOCAL_FIRST_PORT: '25000' }), 25000);
  assert.throws(() => firstPortFor('/x', { CLEW_LOCAL_FIRST_PORT: '80' }), /\$CLEW_LOCAL_FIRST_PORT: expected a port from 20000 to 32767/);
  const a = firstPortFor('/run/user/501/clew', {});
  assert.equal(firstPortFor('/run/user/501/clew', {}), a, 'stable');
  assert.ok(a >= 21000 && a <= 30900 && a % 100 === 0);
  const starts = new Set(Array.from({ length: 20 }, (_, i) => firstPortFor(`/tmp/clew-${500 + i}`, {})));
  assert.ok(starts.size >= 10, `state dirs spread over the range: ${[...starts]}`);
});
