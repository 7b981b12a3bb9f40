/**
 * 2,000 gateway VirtualServices in one apply (issue 23 item 8: the event loop was blocked 18 s,
 * growing quadratically). The cost must grow linearly: the recursive fs.watch re-read the whole
 * config dir on every file event, the IST0109 check compared every VirtualService with every
 * other. Measured as CPU time of this process (load on the machine does not change it much) and
 * as the longest time /ready went unanswered during the apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request } from 'undici';
import { ControlPlane } from '../../src/control-plane/control-plane.js';

function gatewayConfig(n: number, tag: string): string {
  const docs = [`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`];
  for (let i = 0; i < n; i++) {
    docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${tag}${i}}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http: [{match: [{uri: {prefix: /${tag}${i}}}], route: [{destination: {host: svc${i % 50}.default.svc.cluster.local, port: {number: 80}}}]}]
`);
  }
  return docs.join('---\n');
}

async function applyMeasured(n: number): Promise<{ cpuMs: number; wallMs: number; maxReadyGapMs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-large-'));
  const cp = new ControlPlane({ configDir: dir, xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, publishToken: false, log: () => {} });
  await cp.start();
  try {
    const body = gatewayConfig(n, 'vs');
    let maxGap = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const t0 = performance.now();
        const r = await request(`http://127.0.0.1:${cp.debugPort}/ready`);
        await r.body.text();
        maxGap = Math.max(maxGap, performance.now() - t0);
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await request(`http://127.0.0.1:${cp.debugPort}/apis/v1/apply?file=big.yaml`, {
      method: 'POST', body, headers: { 'content-type': 'application/yaml', authorization: `Bearer ${cp.adminToken}` },
    });
    const text = await res.body.text();
    assert.equal(res.statusCode, 200, text.slice(0, 500));
    // the watcher's events for those files arrive after the apply: count them too
    await new Promise((r) => setTimeout(r, 1500));
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    polling = false;
    await poll;
    assert.equal(cp.store.all().length, n + 1);
    return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs, maxReadyGapMs: maxGap };
  } finally {
    await cp.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('applying 2,000 gateway VirtualServices costs linear time and /ready keeps answering', { timeout: 240_000 }, async () => {
  const small = await applyMeasured(500);
  const big = await applyMeasured(2000);
  const ratio = big.cpuMs / small.cpuMs;
  const report = `500: ${small.cpuMs.toFixed(0)} ms CPU, 2000: ${big.cpuMs.toFixed(0)} ms CPU (x${ratio.toFixed(1)}; quadratic would be x16); longest /ready gap ${big.maxReadyGapMs.toFixed(0)} ms`;
  process.stderr.write(`${report}\n`);
  assert.ok(ratio < 8, report);
  assert.ok(big.cpuMs < 20_000, report);
  assert.ok(big.maxReadyGapMs < 5000, report);
});
