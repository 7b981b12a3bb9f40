/**
 * Capture listeners in node:cluster workers (`clew proxy --concurrency N` / `--hot-restart`): the
 * agent cannot share a socket the addon created, so each worker binds its own with SO_REUSEPORT.
 * In a namespace this test creates: two workers listen on one port, the kernel spreads
 * connections over both, and after one closes its listener (a hot-restart hand-over) every new
 * connection is served by the other, none refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { addNetns } from '../helpers/netns.js';
import { REPO_ROOT } from '../helpers/paths.js';

const LISTENER_MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', 'capture', 'capture-listener.js')).href;
const ADDON_MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', 'capture', 'original-dst.js')).href;

test('two cluster workers share a capture listener port (SO_REUSEPORT); one closing hands over without refusals', { timeout: 60_000 }, () => {
  const ns = addNetns('ccl');
  const script = `
import cluster from 'node:cluster';
import * as net from 'node:net';
import { CaptureListener } from ${JSON.stringify(LISTENER_MODULE)};
import { loadOriginalDstAddon } from ${JSON.stringify(ADDON_MODULE)};
if (cluster.isWorker) {
  const l = new CaptureListener(loadOriginalDstAddon().addon, { reusePort: cluster.isWorker });
  l.on('connection', (s) => { s.on('error', () => {}); s.end(String(cluster.worker.id)); });
  l.on('error', (e) => { console.error(e); process.exit(3); });
  process.on('message', (m) => { if (m === 'close') l.close(() => process.send('closed')); });
  l.listen({ host: '0.0.0.0', port: 15001 }, () => process.send('ready'));
} else {
  const workers = [cluster.fork(), cluster.fork()];
  const wait = (w, what) => new Promise((res) => w.on('message', (m) => m === what && res()));
  const dial = () => new Promise((res) => {
    let got = '';
    net.connect(15001, '127.0.0.1').on('data', (d) => (got += d)).on('close', () => res(got)).on('error', (e) => res(e.code));
  });
  await Promise.all(workers.map((w) => wait(w, 'ready')));
  const before = [];
  for (let i = 0; i < 40; i++) before.push(await dial());
  const closed = wait(workers[0], 'closed');
  workers[0].send('close');
  await closed;
  const after = [];
  for (let i = 0; i < 20; i++) after.push(await dial());
  console.log(JSON.stringify({ before, after, ids: workers.map((w) => String(w.id)) }));
  for (const w of workers) w.kill();
}`;
  // cluster workers run the primary's file again: the script needs one
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-ccl-'));
  const file = path.join(dir, 'cluster.mjs');
  fs.writeFileSync(file, script);
  let r: SpawnSyncReturns<string>;
  try {
    r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, file], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { before: string[]; after: string[]; ids: string[] };
  const [first, second] = out.ids;
  // spread by 4-tuple hash: 40 connections from different source ports reach both workers
  assert.ok(out.before.includes(first) && out.before.includes(second), JSON.stringify(out.before));
  assert.ok(out.before.every((x) => x === first || x === second), JSON.stringify(out.before));
  assert.deepEqual(out.after, Array(20).fill(second), 'after the hand-over the other worker serves every connection');
});
