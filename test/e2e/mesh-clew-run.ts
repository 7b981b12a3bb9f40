/**
 * `clew run` as a user would: three workloads (a, b, c), each `clew run --name X --port 8080 --
 * node app.js`, at once on one machine, not as root (as `nobody` when the test runs as root).
 * With pod addressing `loopback-ip` each gets its own loopback address with the well-known sidecar
 * ports; with `port` (macOS' way, forced here) all are on 127.0.0.1 with ports of their own. Each
 * app calls the others by service name through its HTTP_PROXY, and every call passes the caller's
 * sidecar (outbound cluster) and the callee's (inbound cluster), as their admin stats show.
 * Shared by mesh-clew-run.test.ts and mesh-clew-run-port.test.ts.
 */
import { before, test } from 'node:test';
import type { PodAddressingMode } from '../../src/local/pod-addressing.js';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { request } from 'undici';
import { adminTokenOf } from '../../src/local/local-credentials.js';
import { adminStat, spawnClew, startControlPlane, stopProcess, tempDir, waitFor, type ControlPlaneProc, type Proc } from './mesh-stack.js';

const NAMES = ['a', 'b', 'c'];
const PORT = 8080;
const APP = fileURLToPath(new URL('./fixture-mesh-app.js', import.meta.url));

interface Pod {
  name: string;
  run: Proc;
  address: string;
  /** where the sidecar serves workload port 8080, its admin and readiness ports (from clew run's output) */
  inbound: number;
  admin: number;
  ready: number;
}

function services(): string {
  return NAMES.map((n) => `apiVersion: v1
kind: Service
metadata: {name: ${n}, namespace: default}
spec:
  selector: {app: ${n}}
  ports:
  - {name: http, port: ${PORT}, targetPort: ${PORT}}
`).join('---\n');
}

export function clewRunTests(mode: PodAddressingMode): void {
  let cp: ControlPlaneProc;
  const pods = new Map<string, Pod>();

  async function getJson(url: string): Promise<{ status: number; body: any }> {
    const res = await request(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    const text = await res.body.text();
    try {
      return { status: res.statusCode, body: JSON.parse(text) };
    } catch {
      return { status: res.statusCode, body: text };
    }
  }

  const stat = (pod: Pod, name: string): Promise<number> => adminStat(`http://${pod.address}:${pod.admin}`, name);

  const inbound = (pod: Pod): Promise<number> => stat(pod, `cluster.inbound|${PORT}||.upstream_rq_total`);
  const outbound = (pod: Pod, to: string): Promise<number> => stat(pod, `cluster.outbound|${PORT}||${to}.default.svc.cluster.local.upstream_rq_total`);

  before(async () => {
    const configDir = tempDir('clew-e2e-run-config-');
    writeFileSync(join(configDir, 'services.yaml'), services());
    cp = await startControlPlane(configDir);
    const stateDir = tempDir('clew-e2e-run-state-');
    // no root: as root, run the workloads as nobody (they must still bind their ports and lease addresses)
    const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
    if (user) chmodSync(stateDir, 0o777);
    for (const name of NAMES) {
      const run = spawnClew(
        ['run', '--name', name, '--port', String(PORT), ...(mode === 'port' ? ['--pod-addressing', mode] : []), '--xds-address', cp.xdsAddress,
          '--control-plane', cp.debugUrl, '--ca-address', `127.0.0.1:${cp.secureXdsPort}`, '--', process.execPath, APP],
        // another user than the control plane's: it is given the admin token to mint its pods' workload tokens
        { CLEW_STATE_DIR: stateDir, CLEW_LOCAL_FIRST_BLOCK: '64', ...(mode === 'port' ? { CLEW_LOCAL_FIRST_PORT: '23000' } : {}), CLEW_CONTROL_PLANE_TOKEN: adminTokenOf(cp.configDir) },
        user,
      );
      pods.set(name, { name, run, address: '', inbound: 0, admin: 0, ready: 0 });
    }
    for (const pod of pods.values()) {
      await waitFor(() => {
        if (pod.run.proc.exitCode !== null) throw new Error(`clew run ${pod.name} exited: ${pod.run.output()}`);
        return /app \w+ listening on/.test(pod.run.output());
      }, 30_000, () => `clew run ${pod.name}: ${pod.run.output()}`);
      const out = pod.run.output();
      const m = new RegExp(`pod ${pod.name}\\.default on (127\\.0\\.\\d+\\.\\d+)`).exec(out);
      assert.ok(m, out);
      pod.address = m[1];
      const port = (re: RegExp): number => {
        const p = re.exec(out);
        assert.ok(p, `${re} in ${out}`);
        return Number(p[1]);
      };
      pod.inbound = port(new RegExp(`port ${PORT}: sidecar inbound [\\d.]+:(\\d+)`));
      pod.admin = port(/admin http:\/\/[\d.]+:(\d+)/);
      pod.ready = port(/ready http:\/\/[\d.]+:(\d+)\/healthz\/ready/);
      assert.match(out, new RegExp(`pod addressing: ${mode} \\(${mode === "port" ? "set by --pod-addressing" : "this machine routes"}`));
    }
  }, { timeout: 60_000 });

  test(`three clew run workloads share the machine (${mode}): own addresses or own ports, no root`, async () => {
    const addresses = [...pods.values()].map((p) => p.address);
    if (mode === 'loopback-ip') {
      assert.equal(new Set(addresses).size, 3, `addresses: ${addresses}`);
      for (const pod of pods.values()) assert.deepEqual([pod.inbound, pod.admin, pod.ready], [PORT, 15000, 15021], 'the well-known ports');
    } else {
      assert.deepEqual(addresses, ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
      const ports = [...pods.values()].flatMap((p) => [p.inbound, p.admin, p.ready]);
      assert.equal(new Set(ports).size, 9, `ports of their own: ${ports}`);
      for (const p of ports) assert.ok(p >= 23000 && p <= 32767, `${p} leased from the range`);
    }
    for (const pod of pods.values()) {
      assert.match(pod.run.output(), new RegExp(`outbound \\(HTTP_PROXY\\): http://${pod.address.replace(/\./g, '\\.')}:${mode === 'port' ? '\\d+' : '15001'}`));
      const hello = await getJson(`http://${pod.address}:${pod.inbound}/hello`);
      assert.equal(hello.status, 200);
      assert.equal(hello.body.name, pod.name);
      if (process.getuid?.() === 0) assert.equal(hello.body.uid, 65534, 'the workload runs without root');
      const ready = await request(`http://${pod.address}:${pod.ready}/healthz/ready`);
      await ready.body.dump();
      assert.equal(ready.statusCode, 200);
    }
  });

  test('each app calls the others by service name through both sidecars', { timeout: 60_000 }, async () => {
    const list = [...pods.values()];
    // the callers' sidecars learn every callee's endpoint once all three registered
    for (const from of list) {
      for (const to of list.filter((p) => p !== from)) {
        let last: unknown;
        await waitFor(async () => {
          const r = await getJson(`http://${from.address}:${from.inbound}/call/${to.name}`);
          last = r;
          return r.body.status === 200;
        }, 20_000, () => `${from.name} -> ${to.name}: last answer ${JSON.stringify(last)}`);
      }
    }
    const inBefore = new Map(await Promise.all(list.map(async (p) => [p.name, await inbound(p)] as const)));
    const outBefore = new Map<string, number>();
    for (const from of list) for (const to of list) if (from !== to) outBefore.set(`${from.name}>${to.name}`, await outbound(from, to.name));

    for (const from of list) {
      for (const to of list.filter((p) => p !== from)) {
        const r = await getJson(`http://${from.address}:${from.inbound}/call/${to.name}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.from, from.name);
        assert.equal(r.body.status, 200);
        const reply = r.body.reply;
        assert.equal(reply.name, to.name, `${from.name} -> ${to.name} reached ${reply.name}`);
        assert.equal(reply.headers.host, `${to.name}:${PORT}`);
        assert.match(String(reply.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'the sidecars added x-request-id');
        assert.equal(reply.headers['x-forwarded-proto'], 'http');
      }
    }
    for (const from of list) {
      for (const to of list.filter((p) => p !== from)) {
        const delta = (await outbound(from, to.name)) - outBefore.get(`${from.name}>${to.name}`)!;
        assert.equal(delta, 1, `${from.name}'s sidecar sent ${delta} requests to ${to.name}`);
      }
    }
    for (const p of list) {
      // two calls from the others, two from this test (entering through it to call the others)
      const delta = (await inbound(p)) - inBefore.get(p.name)!;
      assert.equal(delta, 4, `${p.name}'s sidecar passed ${delta} inbound requests to its app`);
    }
  });

  test('SIGTERM to clew run stops its sidecar and app; the others keep serving', async () => {
    const c = pods.get('c')!;
    await stopProcess(c.run.proc, 10_000);
    assert.equal(c.run.proc.exitCode, 0, c.run.output());
    await waitFor(async () => {
      try {
        await request(`http://${c.address}:${c.admin}/ready`, { headersTimeout: 500 });
        return false;
      } catch {
        return true;
      }
    }, 5000, "c's sidecar to go");
    const a = pods.get('a')!;
    const r = await getJson(`http://${a.address}:${a.inbound}/call/b`);
    assert.equal(r.body.reply?.name, 'b');
  });
}
