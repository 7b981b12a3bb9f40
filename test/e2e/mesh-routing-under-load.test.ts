/**
 * Routing changes under load, through Clew's control plane and two sidecars per request: 100 rps
 * for 10 s from a client (through its sidecar, HTTP_PROXY style) to `web` (v1 and v2 pods, each
 * with its sidecar) while the VirtualService's weights change every second (POST /apis/v1/apply).
 * No request may fail, and the split follows the config: each VirtualService version stamps its
 * responses (x-route-gen), so the split is checked per version exactly, and per 1-second window
 * once the new version has reached the client's sidecar.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ProxyAgent, request } from 'undici';
import {
  applyConfig, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar,
  webV1V2Platform,
} from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '62';

const PORT = 8080;
const RPS = 100;
const SECONDS = 10;
/** v1 weight per second (v2 gets the rest); second 0 is in force before the load starts */
const V1_WEIGHTS = [100, 0, 50, 80, 20, 100, 30, 0, 70, 50];

const PLATFORM = webV1V2Platform(PORT);

/** the VirtualService version `gen` (its responses carry x-route-gen: gen) */
function virtualService(gen: number, v1 = V1_WEIGHTS[gen]): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - headers:
      response:
        set: {x-route-gen: "${gen}"}
    route:
    - destination: {host: web, subset: v1}
      weight: ${v1}
    - destination: {host: web, subset: v2}
      weight: ${100 - v1}
`;
}

let cp: ControlPlaneProc;
let client: Sidecar;
let dispatcher: ProxyAgent;
const apps: http.Server[] = [];

async function startWebPod(version: string, stateDir: string): Promise<Sidecar> {
  const plan = await planSidecar({ name: `web-${version}`, labels: { app: 'web', version }, ports: [PORT], xdsAddress: cp.xdsAddress, stateDir });
  const app = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(version);
  });
  app.keepAliveTimeout = 60_000;
  apps.push(app);
  await new Promise<void>((r) => app.listen(0, plan.address, () => r()));
  return startSidecar(plan, { [PORT]: (app.address() as AddressInfo).port });
}

interface Sample {
  sentAt: number;
  version?: string;
  gen?: number;
  error?: string;
}

async function call(): Promise<Omit<Sample, 'sentAt'>> {
  try {
    const res = await request(`http://web:${PORT}/`, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 });
    const body = await res.body.text();
    if (res.statusCode !== 200) return { error: `${res.statusCode} ${body.slice(0, 100)}` };
    return { version: body, gen: Number(res.headers['x-route-gen']) };
  } catch (err) {
    return { error: `${(err as Error).name}: ${(err as Error).message}` };
  }
}

before(async () => {
  const stateDir = tempDir('clew-e2e-load-state-');
  const configDir = tempDir('clew-e2e-load-config-');
  writeFileSync(join(configDir, 'web.yaml'), PLATFORM);
  writeFileSync(join(configDir, 'web-vs.yaml'), virtualService(0));
  cp = await startControlPlane(configDir);
  const clientPlan = await planSidecar({ name: 'client', labels: { app: 'client' }, xdsAddress: cp.xdsAddress, stateDir });
  [client] = await Promise.all([startSidecar(clientPlan), startWebPod('v1', stateDir), startWebPod('v2', stateDir)]);
  // absolute-form requests to the client's sidecar, as HTTP_PROXY clients send for http:// URLs
  dispatcher = new ProxyAgent({ uri: client.outboundUrl, proxyTunnel: false });
  // both versions are reachable through the mesh before the clock starts
  await applyConfig(cp, virtualService(-1, 50));
  const seen = new Set<string>();
  await waitFor(async () => {
    const r = await call();
    if (r.version) seen.add(r.version);
    return seen.size === 2;
  }, 20_000, () => `both versions through the mesh (seen ${[...seen]})`);
  await applyConfig(cp, virtualService(0));
  await waitFor(async () => (await call()).gen === 0, 10_000, 'VirtualService version 0');
}, { timeout: 60_000 });

after(async () => {
  await dispatcher?.close();
  for (const a of apps) {
    a.closeAllConnections();
    a.close();
  }
});

/** Largest allowed deviation of a count from n*p: 4.5 standard deviations (+1 for rounding). */
function tolerance(n: number, p: number): number {
  return 4.5 * Math.sqrt(n * p * (1 - p)) + 1;
}

test(`${RPS} rps for ${SECONDS} s while the weights change every second: no failure, the split follows each version`, { timeout: 60_000 }, async () => {
  const samples: Sample[] = [];
  const inflight: Promise<void>[] = [];
  const applied: number[] = [];
  const applyErrors: string[] = [];
  const t0 = performance.now();
  // weight changes at t0 + 1 s, 2 s, ...: applied through the control plane's API
  const changes = (async () => {
    applied[0] = t0;
    for (let gen = 1; gen < SECONDS; gen++) {
      const at = t0 + gen * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, at - performance.now())));
      applied[gen] = performance.now();
      try {
        await applyConfig(cp, virtualService(gen));
      } catch (err) {
        applyErrors.push((err as Error).message);
      }
    }
  })();
  // open loop: request i leaves at t0 + i * 10 ms whatever the previous ones are doing
  const total = RPS * SECONDS;
  for (let i = 0; i < total; i++) {
    const at = t0 + (i * 1000) / RPS;
    const wait = at - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sample: Sample = { sentAt: performance.now() };
    samples.push(sample);
    inflight.push(call().then((r) => void Object.assign(sample, r)));
  }
  await Promise.all(inflight);
  await changes;
  const elapsed = performance.now() - t0;
  assert.deepEqual(applyErrors, []);

  const failed = samples.filter((s) => s.error);
  assert.equal(failed.length, 0, `${failed.length} of ${samples.length} failed, e.g. ${[...new Set(failed.map((f) => f.error))].slice(0, 5).join(' | ')}`);
  assert.ok(elapsed < SECONDS * 1000 + 3000, `the load took ${Math.round(elapsed)} ms`);

  // 1. per VirtualService version (exact: each response names the version that routed it)
  const report: string[] = [];
  for (let gen = 0; gen < SECONDS; gen++) {
    const mine = samples.filter((s) => s.gen === gen);
    const n = mine.length;
    const v1 = mine.filter((s) => s.version === 'v1').length;
    const p = V1_WEIGHTS[gen] / 100;
    report.push(`gen ${gen} (v1 ${V1_WEIGHTS[gen]}%): ${v1}/${n}`);
    assert.ok(Math.abs(v1 - n * p) <= tolerance(n, p), `version ${gen}: v1 got ${v1} of ${n}, weight ${V1_WEIGHTS[gen]}%`);
  }

  // 2. per 1-second window, once the switch is over: from the first request routed by the new
  // version, or after the last one (sent in the window) routed by an older one if that is later
  // (a request can wait for a connection while later ones overtake it)
  const edges: string[] = [];
  let judged = 0;
  for (let w = 1; w < SECONDS; w++) {
    const start = applied[w];
    const end = t0 + (w + 1) * 1000;
    const inWindow = samples.filter((s) => s.sentAt >= start && s.sentAt < end);
    const firstNew = inWindow.find((s) => s.gen! >= w);
    const lastOld = inWindow.filter((s) => s.gen! < w).pop();
    const where = `second ${w} (${report.join('; ')}; edges so far ${edges.join(', ')})`;
    assert.ok(firstNew, `no request sent in ${where} was routed by the version applied at its start`);
    const settledFrom = Math.max(firstNew.sentAt, lastOld ? lastOld.sentAt + 0.001 : 0);
    edges.push(`${Math.round(firstNew.sentAt - start)}-${Math.round(settledFrom - start)}`);
    const settled = inWindow.filter((s) => s.sentAt >= settledFrom && s.gen === w);
    const n = settled.length;
    const v1 = settled.filter((s) => s.version === 'v1').length;
    const p = V1_WEIGHTS[w] / 100;
    // the split is checked where the window holds enough requests routed by its own version for
    // the tolerance to mean something; on a loaded machine the push can take most of a window, so
    // only most windows (not all) are required to have them
    if (n >= 10) {
      judged++;
      assert.ok(Math.abs(v1 - n * p) <= tolerance(n, p), `${where}: v1 got ${v1} of ${n} after the switch, weight ${V1_WEIGHTS[w]}%`);
    }
  }
  assert.ok(judged >= Math.ceil((SECONDS - 1) / 2), `only ${judged} of ${SECONDS - 1} windows had 10 requests after their switch (edges ${edges.join(', ')})`);
  console.log(`# ${samples.length} requests in ${Math.round(elapsed)} ms, 0 failed; per change, ms from the apply to the first request routed by it - to the last routed by an older one: ${edges.join(', ')}; ${report.join('; ')}`);
});
