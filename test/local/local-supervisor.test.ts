import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pidAlive } from '../../src/local/local-address.js';
import { LocalConsole } from '../../src/local/local-console.js';
import { exitCodeOf, Supervisor } from '../../src/local/local-supervisor.js';
import { startFixture, waitUntil } from './local-test-helpers.js';

function capture(): { con: LocalConsole; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  return { con: new LocalConsole({ out, err: out, tty: false }), text: () => text };
}

/** The grandchild's pid, once its line has arrived (it may follow the fixture's JSON under load). */
async function grandchildPid(output: () => string): Promise<number> {
  await waitUntil(() => /\[beta\] grandchild \d+/.test(output()), 10_000, 'the grandchild line');
  return Number(/\[beta\] grandchild (\d+)/.exec(output())![1]);
}

test('children output is forwarded line by line with a [name] prefix', async () => {
  const { con, text } = capture();
  const sup = new Supervisor({ console: con, watchdog: false });
  const c = sup.spawn({ name: 'echo', command: process.execPath, args: ['-e', 'console.log("one\\ntwo"); console.error("three"); process.stdout.write("tail")'] });
  const e = await c.exited;
  await new Promise((r) => setImmediate(r));
  assert.equal(exitCodeOf(e), 0);
  assert.match(text(), /^\[echo\] one$/m);
  assert.match(text(), /^\[echo\] two$/m);
  assert.match(text(), /^\[echo\] three$/m);
  assert.match(text(), /^\[echo\] tail$/m);
  await sup.stop();
});

test('stop() ends every child and its own children, SIGKILL after the grace period', async () => {
  const { con, text } = capture();
  const sup = new Supervisor({ console: con, watchdog: false });
  const stubborn = sup.spawn({ name: 'stubborn', command: process.execPath, args: ['-e', 'process.on("SIGTERM", () => {}); console.log("armed"); setInterval(() => {}, 1000)'] });
  const normal = sup.spawn({ name: 'normal', command: process.execPath, args: ['-e', 'console.log("armed"); setInterval(() => {}, 1000)'] });
  await waitUntil(() => /\[stubborn\] armed/.test(text()) && /\[normal\] armed/.test(text()), 5000, 'the children to start');
  const t0 = Date.now();
  await sup.stop(500);
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(stubborn.exit?.signal, 'SIGKILL');
  assert.equal(normal.exit?.signal, 'SIGTERM');
  assert.equal(pidAlive(stubborn.pid), false);
  assert.equal(pidAlive(normal.pid), false);
});

test('a spawn failure is an exit with code 127, not a crash', async () => {
  const { con, text } = capture();
  const sup = new Supervisor({ console: con, watchdog: false });
  const c = sup.spawn({ name: 'nothere', command: '/nonexistent/clew-test-binary' });
  const e = await c.exited;
  assert.equal(e.code, 127);
  assert.match(text(), /\[nothere\] cannot start/);
  await sup.stop();
});

test('SIGTERM to the supervising process stops all children (and grandchildren)', async () => {
  const f = startFixture('fixture-supervisor', [], {});
  const { pids } = (await f.json) as { pids: number[] };
  const grandchild = await grandchildPid(() => f.output());
  assert.ok([...pids, grandchild].every(pidAlive));
  f.proc.kill('SIGTERM');
  const e = await f.exited;
  assert.equal(e.code, 0);
  for (const pid of [...pids, grandchild]) assert.equal(pidAlive(pid), false, `pid ${pid} survived`);
});

test('SIGINT (Ctrl-C) to the supervising process stops all children', async () => {
  const f = startFixture('fixture-supervisor', [], {});
  const { pids } = (await f.json) as { pids: number[] };
  f.proc.kill('SIGINT');
  assert.equal((await f.exited).code, 0);
  for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} survived`);
});

test('SIGKILL of the supervising process: the orphan guard ends the children and removes guarded directories', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clew-guard-dir-'));
  writeFileSync(join(dir, 'config.yaml'), 'kind: Service\n');
  const f = startFixture('fixture-supervisor', [], { CLEW_WATCHDOG_GRACE_MS: '1000', CLEW_TEST_GUARD_DIR: dir });
  const { pids, guard } = (await f.json) as { pids: number[]; guard: number };
  const grandchild = await grandchildPid(() => f.output());
  assert.ok(guard > 0 && pidAlive(guard));
  f.proc.kill('SIGKILL');
  await f.exited;
  await waitUntil(() => [...pids, grandchild].every((p) => !pidAlive(p)), 5000, 'children to die after their parent was killed');
  await waitUntil(() => !pidAlive(guard), 3000, 'the guard to exit');
  assert.equal(existsSync(dir), false, 'the guarded directory is removed with its contents');
});

test('a clean stop leaves guarded directories to their owner (the guard exits without touching them)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clew-guard-dir-'));
  try {
    const f = startFixture('fixture-supervisor', [], { CLEW_TEST_GUARD_DIR: dir });
    const { guard } = (await f.json) as { guard: number };
    f.proc.kill('SIGTERM');
    assert.equal((await f.exited).code, 0);
    await waitUntil(() => !pidAlive(guard), 3000, 'the guard to exit');
    assert.equal(existsSync(dir), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('awaitStopSignal: the first signal is named and wakes once; later ones are ignored; uninstall removes the handlers', async () => {
  const { con } = capture();
  const sup = new Supervisor({ console: con, watchdog: false });
  const seen: string[] = [];
  const before = process.listenerCount('SIGTERM');
  const stop = sup.awaitStopSignal((sig) => seen.push(sig));
  assert.equal(stop.signal(), undefined);
  assert.equal(process.listenerCount('SIGTERM'), before + 1);
  process.emit('SIGTERM', 'SIGTERM');
  process.emit('SIGINT', 'SIGINT');
  await stop.woken;
  assert.equal(stop.signal(), 'SIGTERM');
  assert.deepEqual(seen, ['SIGTERM']);
  stop.uninstall();
  assert.equal(process.listenerCount('SIGTERM'), before);
});

test('exitedBeforeReady names the first child that exited, with its code', async () => {
  const { con } = capture();
  const sup = new Supervisor({ console: con, watchdog: false });
  try {
    assert.equal(sup.exitedBeforeReady('the demo'), undefined);
    const c = sup.spawn({ name: 'quitter', command: process.execPath, args: ['-e', 'process.exit(3)'] });
    await c.exited;
    assert.equal(sup.exitedBeforeReady('the demo'), 'quitter exited (code 3) before the demo was ready; see its [quitter] lines');
  } finally {
    await sup.stop();
  }
});
