/**
 * The hostile-input suite at the socket level (issue 23): every case of hostile-cases.ts against
 * the ingress gateway, the sidecar's outbound and its inbound, real `clew proxy` processes
 * configured by the real control plane. Each case must get its answer (or close) at once, reach
 * the app only as allowed, and leave the proxy serving: the next normal request through the
 * same target succeeds and the processes are still running.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_CASES } from './hostile-cases.js';
import { firstStatus, normalRequest, rawExchange, startHostileStack, type HostileStack } from './hostile-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '81';

let stack: HostileStack;
before(async () => {
  stack = await startHostileStack();
}, { timeout: 90_000 });

for (const c of ALL_CASES) {
  test(`hostile: ${c.name} (${c.source})`, { timeout: 30_000 }, async () => {
    for (const t of stack.targets) {
      if (c.only && !c.only.includes(t.name)) continue;
      const seenBefore = stack.seen.length;
      const r = await rawExchange(t, c.send(t.authority));
      const where = `${t.name}: ${JSON.stringify(r.text.slice(0, 300))}`;
      assert.ok(c.status.includes(firstStatus(r.text)), `${where}: status ${firstStatus(r.text)}, expected ${c.status.join('|')}`);
      if (c.closes !== false) assert.ok(r.closed, `${where}: the proxy kept the connection open`);
      const reached = stack.seen.slice(seenBefore);
      if (c.appNever !== undefined) {
        assert.ok(!reached.some((q) => q.url.includes(c.appNever!)), `${where}: the app received ${reached.map((q) => q.url).join(', ')}`);
      }
      if (c.appSees !== undefined) assert.ok(reached.some((q) => q.url === c.appSees), `${where}: the app received ${reached.map((q) => q.url).join(', ')}`);
      assert.equal(t.proxy.proc.exitCode, null, `${t.name}: the proxy exited: ${t.proxy.output().slice(-3000)}`);
      const after = await normalRequest(t).catch((e: Error) => ({ status: 0, body: e.message }));
      assert.equal(after.status, 200, `${t.name}: a normal request after the case: ${after.status} ${after.body}; proxy: ${t.proxy.output().slice(-3000)}`);
    }
  });
}
