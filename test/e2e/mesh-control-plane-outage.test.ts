/**
 * The control plane goes away while traffic flows: the sidecars keep serving with the config they
 * have (no request fails), reconnect with backoff when it is back (same config dir, same ports),
 * resync, and a config change made afterwards with `clew apply` reaches them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import { runClew } from '../helpers/run-clew.js';
import {
  planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar,
  webV1V2Platform,
} from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '63';

const PORT = 8080;
const PLATFORM = webV1V2Platform(PORT);

function allTo(subset: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - route:
    - destination: {host: web, subset: ${subset}}
`;
}

let configDir: string;
let cp: ControlPlaneProc;
let client: Sidecar;
let pods: Sidecar[];
let dispatcher: ProxyAgent;
const apps: http.Server[] = [];

async function startWebPod(version: string, stateDir: string): Promise<Sidecar> {
  const plan = await planSidecar({ name: `web-${version}`, labels: { app: 'web', version }, ports: [PORT], xdsAddress: cp.xdsAddress, stateDir });
  const app = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(version);
  });
  apps.push(app);
  await new Promise<void>((r) => app.listen(0, plan.address, () => r()));
  return startSidecar(plan, { [PORT]: (app.address() as AddressInfo).port });
}

async function call(): Promise<{ version?: string; error?: string }> {
  try {
    const res = await request(`http://web:${PORT}/`, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const body = await res.body.text();
    return res.statusCode === 200 ? { version: body } : { error: `${res.statusCode} ${body.slice(0, 100)}` };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

/** the proxies the control plane has a stream with, by node id */
async function connectedProxies(): Promise<string[]> {
  try {
    const res = await request(`${cp.debugUrl}/debug/syncz`);
    const rows = (await res.body.json()) as Array<{ proxy: string }>;
    return rows.map((r) => r.proxy).sort();
  } catch {
    return [];
  }
}

before(async () => {
  const stateDir = tempDir('clew-e2e-outage-state-');
  configDir = tempDir('clew-e2e-outage-config-');
  writeFileSync(join(configDir, 'web.yaml'), PLATFORM);
  writeFileSync(join(configDir, 'web-vs.yaml'), allTo('v1'));
  cp = await startControlPlane(configDir);
  const clientPlan = await planSidecar({ name: 'client', labels: { app: 'client' }, xdsAddress: cp.xdsAddress, stateDir });
  const started = await Promise.all([startSidecar(clientPlan), startWebPod('v1', stateDir), startWebPod('v2', stateDir)]);
  client = started[0];
  pods = started;
  dispatcher = new ProxyAgent({ uri: client.outboundUrl, proxyTunnel: false });
  await waitFor(async () => (await call()).version === 'v1', 20_000, 'web v1 through the mesh');
}, { timeout: 60_000 });

after(async () => {
  await dispatcher?.close();
  for (const a of apps) {
    a.closeAllConnections();
    a.close();
  }
});

test('control plane down: traffic keeps flowing; back on the same ports: proxies resync and a change reaches them', { timeout: 60_000 }, async () => {
  const results: Array<{ phase: string; version?: string; error?: string }> = [];
  let phase = 'before';
  let running = true;
  // steady open-loop traffic, 50 rps, through the client's sidecar
  const load = (async () => {
    const inflight: Promise<void>[] = [];
    const t0 = performance.now();
    for (let i = 0; running; i++) {
      const wait = t0 + i * 20 - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const p = phase;
      inflight.push(call().then((r) => void results.push({ phase: p, ...r })));
    }
    await Promise.all(inflight);
  })();
  const nodeIds = await connectedProxies();
  assert.equal(nodeIds.length, 3, `proxies connected: ${nodeIds}`);
  await new Promise((r) => setTimeout(r, 1000));

  // crash the control plane
  phase = 'down';
  const ports = { xds: cp.xdsPort, debug: cp.debugPort, secure: cp.secureXdsPort };
  cp.proc.kill('SIGKILL');
  await cp.exited;
  await waitFor(async () => (await client.stat('control_plane.connected_state')) === 0, 5000, 'the client sidecar to notice');
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(results.filter((r) => r.phase === 'down').length >= 25, 'traffic flowed while the control plane was down');

  // back, same config dir and ports
  phase = 'restarted';
  const restartAt = performance.now();
  cp = await startControlPlane(configDir, ports);
  let reconnected: string[] = [];
  await waitFor(async () => (reconnected = await connectedProxies()).join() === nodeIds.join(), 20_000, () => `every proxy to reconnect: ${reconnected}`);
  for (const p of pods) await waitFor(async () => (await p.stat('control_plane.connected_state')) === 1, 5000, `${p.name} to report connected`);
  const resyncMs = Math.round(performance.now() - restartAt);
  await new Promise((r) => setTimeout(r, 500));

  // a change made now reaches the proxies
  phase = 'changed';
  const vsFile = join(tempDir('clew-e2e-outage-apply-'), 'web-v2.yaml');
  writeFileSync(vsFile, allTo('v2'));
  const changeAt = performance.now();
  const applied = await runClew(['apply', '-f', vsFile, '--control-plane', cp.debugUrl]);
  assert.equal(applied.code, 0, applied.stderr);
  const appliedAt = results.length;
  await waitFor(() => results.slice(appliedAt).filter((r) => r.version === 'v2').length >= 20, 10_000, 'traffic to move to v2');
  const changeMs = Math.round(performance.now() - changeAt);
  running = false;
  await load;
  const backoff = [...client.output().matchAll(/reconnecting in (\d+) ms/g)].map((m) => m[1]);
  console.log(`# ${results.length} requests; restart to every proxy resynced: ${resyncMs} ms; clew apply to v2 traffic: ${changeMs} ms; client sidecar's reconnect delays: ${backoff.join(', ')} ms`);

  const failed = results.filter((r) => r.error);
  assert.equal(failed.length, 0, `${failed.length} of ${results.length} requests failed: ${[...new Set(failed.map((f) => `${f.phase}: ${f.error}`))].slice(0, 5).join(' | ')}`);
  for (const ph of ['before', 'down', 'restarted']) {
    const mine = results.filter((r) => r.phase === ph);
    assert.ok(mine.length > 0 && mine.every((r) => r.version === 'v1'), `${ph}: ${mine.length} requests, all to v1 (the config they had)`);
  }
  const last = results.slice(-20);
  assert.ok(last.every((r) => r.version === 'v2'), 'after the change, v2 only');
});
