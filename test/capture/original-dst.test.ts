/**
 * The native addon's capture listeners (native/original-dst, built by `npm ci`) through
 * CaptureListener: it owns the listening socket and accepts; each connection arrives as a
 * working net.Socket with SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST (IPv6) after an
 * iptables REDIRECT in a namespace this test creates, and none when it was not redirected;
 * IP_TRANSPARENT and SO_REUSEPORT binds; bind errors as 'error' events; with reusePort, close()
 * serves the connections already queued instead of resetting them; descriptors running out
 * (EMFILE) is reported, paused on (no busy loop) and recovered from; bad arguments are
 * TypeErrors, not crashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOriginalDstAddon, ADDON_PATH } from '../../src/capture/original-dst.js';
import { addNetns, sh } from '../helpers/netns.js';
import { REPO_ROOT } from '../helpers/paths.js';

const LISTENER_MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', 'capture', 'capture-listener.js')).href;
const ADDON_MODULE = pathToFileURL(path.join(REPO_ROOT, 'dist', 'src', 'capture', 'original-dst.js')).href;

/** an ES module run by `node --input-type=module` with the capture listener imported */
function moduleScript(body: string): string {
  return `import { CaptureListener, capturedDestination } from ${JSON.stringify(LISTENER_MODULE)};
import { loadOriginalDstAddon } from ${JSON.stringify(ADDON_MODULE)};
import * as net from 'node:net';
import { spawnSync } from 'node:child_process';
const { addon } = loadOriginalDstAddon();
${body}`;
}

test('the addon is built and loads; bad arguments are TypeErrors', () => {
  const { addon, error } = loadOriginalDstAddon();
  assert.ok(addon, `${ADDON_PATH}: ${error}`);
  const f = (): void => undefined;
  const listen = addon.listen as unknown as (...a: unknown[]) => unknown;
  assert.throws(() => listen({ host: 'localhost', port: 0 }, f, f), TypeError);
  assert.throws(() => listen({ host: '127.0.0.1', port: 70000 }, f, f), TypeError);
  assert.throws(() => listen({ host: '127.0.0.1', port: 0, transparent: 'yes' }, f, f), TypeError);
  assert.throws(() => listen({ host: '127.0.0.1', port: 0 }, f), TypeError);
  assert.throws(() => (addon.close as unknown as (x: unknown) => unknown)(3), TypeError);
});

test('REDIRECTed connections carry their original destination (IPv4, IPv6); direct ones none; sockets work', { timeout: 60_000 }, () => {
  const ns = addNetns('odst');
  sh(ns, [
    'ip addr add 10.9.9.9/32 dev lo', 'ip -6 addr add fd00::9/128 dev lo nodad',
    'iptables -t nat -A OUTPUT -p tcp -d 10.9.9.9 --dport 80 -j REDIRECT --to-ports 15999',
    'ip6tables -t nat -A OUTPUT -p tcp -d fd00::9 --dport 8443 -j REDIRECT --to-ports 15999',
  ].join(' && '));
  const script = moduleScript(`
    const seen = [];
    const l = new CaptureListener(addon);
    l.on('connection', (s) => {
      seen.push({ dst: capturedDestination(s) ?? null, local: s.localAddress + ':' + s.localPort, remote: s.remoteAddress });
      s.on('data', (d) => s.end('echo:' + d));
    });
    l.on('error', (e) => { console.error(e); process.exit(2); });
    // a transparent listener (TPROXY) and two SO_REUSEPORT ones on one port bind; a second plain one is EADDRINUSE
    const t = new CaptureListener(addon, { transparent: true });
    const r1 = new CaptureListener(addon, { reusePort: true });
    const r2 = new CaptureListener(addon, { reusePort: true });
    const binds = {};
    await new Promise((res) => t.listen({ host: '0.0.0.0', port: 0 }, res));
    binds.transparent = t.address().port > 0;
    await new Promise((res) => r1.listen({ host: '127.0.0.1', port: 16001 }, res));
    await new Promise((res, rej) => r2.on('error', rej).listen({ host: '127.0.0.1', port: 16001 }, res));
    binds.reusePort = r2.address().port === 16001;
    binds.inUse = await new Promise((res) => new CaptureListener(addon).on('error', (e) => res(e.code)).listen({ host: '127.0.0.1', port: 16001 }, () => res('bound')));
    for (const x of [t, r1, r2]) x.close();
    await new Promise((res) => l.listen({ host: '::', port: 15999 }, res));
    const dial = (host, port) => new Promise((res) => {
      let got = '';
      const c = net.connect(port, host, () => c.write('hi')).on('data', (d) => (got += d)).on('close', () => res(got)).on('error', (e) => res(e.code));
    });
    const replies = [await dial('10.9.9.9', 80), await dial('fd00::9', 8443), await dial('127.0.0.1', 15999)];
    l.close();
    console.log(JSON.stringify({ seen, replies, binds, address: l.address() }));`);
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    seen: Array<{ dst: { host: string; port: number } | null; local: string; remote: string }>;
    replies: string[];
    binds: Record<string, unknown>;
    address: unknown;
  };
  assert.deepEqual(out.replies, ['echo:hi', 'echo:hi', 'echo:hi']);
  assert.deepEqual(out.seen[0].dst, { host: '10.9.9.9', port: 80 });
  // REDIRECT in OUTPUT rewrote the destination to the loopback address
  assert.equal(out.seen[0].local, '::ffff:127.0.0.1:15999');
  assert.deepEqual(out.seen[1].dst, { host: 'fd00::9', port: 8443 });
  assert.equal(out.seen[1].remote, 'fd00::9');
  // not redirected: conntrack's original destination is the socket's own address (or none)
  const direct = out.seen[2].dst;
  assert.ok(direct === null || (direct.host === '127.0.0.1' && direct.port === 15999), JSON.stringify(out.seen[2]));
  assert.deepEqual(out.binds, { transparent: true, reusePort: true, inUse: 'EADDRINUSE' });
  assert.equal(out.address, null, 'closed: no address');
});

test('with reusePort, close() serves the connections already queued instead of resetting them', { timeout: 30_000 }, () => {
  const script = moduleScript(`
    const l = new CaptureListener(addon, { reusePort: true });
    const got = [];
    l.on('connection', (s) => s.on('data', (d) => { got.push(String(d)); s.end('served'); }));
    await new Promise((res) => l.listen({ host: '127.0.0.1', port: 0 }, res));
    // another process connects three times and waits for the replies while this one is blocked:
    // nothing is accepted until close() takes the queue
    const client = \`const net = require('node:net'); let n = 0; const out = [];
      for (let i = 0; i < 3; i++) net.connect(\${l.address().port}, '127.0.0.1', function () { this.write('c' + i); }).on('data', (d) => out.push(String(d))).on('close', () => { if (++n === 3) console.log(JSON.stringify(out)); });\`;
    const child = (await import('node:child_process')).spawn(process.execPath, ['-e', client], { stdio: ['ignore', 'pipe', 'inherit'] });
    let childOut = '';
    child.stdout.on('data', (d) => (childOut += d));
    const until = Date.now() + 1500;
    while (Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    l.close();
    child.on('close', () => console.log(JSON.stringify({ got: got.sort(), replies: JSON.parse(childOut || '[]') })));`);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { got: string[]; replies: string[] };
  assert.deepEqual(out.got, ['c0', 'c1', 'c2']);
  assert.deepEqual(out.replies, ['served', 'served', 'served']);
});

test('descriptors running out (EMFILE): reported, paused on without a busy loop, then accepting again', { timeout: 30_000 }, async () => {
  const script = moduleScript(`
    import * as fs from 'node:fs';
    const l = new CaptureListener(addon);
    const errors = [];
    let accepted = 0;
    const conns = [];
    l.on('connection', (s) => { accepted++; conns.push(s); s.on('error', () => {}); });
    l.on('error', (e) => errors.push(e.code));
    await new Promise((res) => l.listen({ host: '127.0.0.1', port: 0 }, res));
    const filler = [];
    for (;;) { try { filler.push(fs.openSync('/dev/null', 'r')); } catch { break; } }
    process.stdout.write(JSON.stringify({ port: l.address().port }) + '\\n');
    // the parent connects 5 times now; accept() fails with EMFILE until the filler is closed
    await new Promise((res) => setTimeout(res, 600));
    const duringPause = { accepted, errors: errors.length };
    for (const fd of filler) fs.closeSync(fd);
    const until = Date.now() + 3000;
    while (accepted < 5 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    l.close();
    for (const s of conns) s.destroy();
    process.stdout.write(JSON.stringify({ duringPause, accepted, codes: [...new Set(errors)] }) + '\\n');`);
  const child = spawn('prlimit', ['--nofile=80:80', process.execPath, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const clients: net.Socket[] = [];
  const done = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        const first = stdout.split('\n')[0];
        if (clients.length === 0 && stdout.includes('\n')) {
          const { port } = JSON.parse(first) as { port: number };
          for (let i = 0; i < 5; i++) clients.push(net.connect(port, '127.0.0.1').on('error', () => undefined));
          resolve();
        }
      });
      child.on('close', () => reject(new Error(`child exited early: ${stderr}`)));
    });
    assert.equal(await done, 0, stderr);
  } finally {
    for (const c of clients) c.destroy();
    child.kill('SIGKILL');
  }
  const out = JSON.parse(stdout.trim().split('\n')[1]) as { duringPause: { accepted: number; errors: number }; accepted: number; codes: string[] };
  assert.equal(out.duringPause.accepted, 0, JSON.stringify(out));
  assert.ok(out.duringPause.errors >= 1, `EMFILE reported: ${JSON.stringify(out)}`);
  // one report per 50 ms pause at most, not one per event-loop turn
  assert.ok(out.duringPause.errors <= 20, `no busy loop: ${JSON.stringify(out)}`);
  assert.deepEqual(out.codes, ['EMFILE']);
  assert.equal(out.accepted, 5, 'every queued connection is accepted once descriptors are free');
});
