/**
 * The native addon (native/original-dst, built by `npm ci`): SO_ORIGINAL_DST for IPv4 and
 * IP6T_SO_ORIGINAL_DST for IPv6 on connections iptables REDIRECTed, in a namespace this test
 * creates; no original destination for a connection that was not redirected; IP_TRANSPARENT on
 * a listening socket; bad arguments are TypeErrors, not crashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadOriginalDstAddon, ADDON_PATH } from '../../src/capture/original-dst.js';
import { addNetns, sh } from '../helpers/netns.js';

test('the addon is built and loads', () => {
  const { addon, error } = loadOriginalDstAddon();
  assert.ok(addon, `${ADDON_PATH}: ${error}`);
  assert.equal(typeof addon.originalDst, 'function');
  assert.equal(typeof addon.setTransparent, 'function');
  assert.throws(() => addon.originalDst(-1), TypeError);
  assert.throws(() => (addon.originalDst as unknown as (x: unknown) => unknown)('3'), TypeError);
});

test('SO_ORIGINAL_DST (IPv4) and IP6T_SO_ORIGINAL_DST (IPv6) after REDIRECT; none without it', { timeout: 60_000 }, () => {
  const ns = addNetns('odst');
  sh(ns, [
    'ip addr add 10.9.9.9/32 dev lo', 'ip -6 addr add fd00::9/128 dev lo nodad',
    'iptables -t nat -A OUTPUT -p tcp -d 10.9.9.9 --dport 80 -j REDIRECT --to-ports 15999',
    'ip6tables -t nat -A OUTPUT -p tcp -d fd00::9 --dport 8443 -j REDIRECT --to-ports 15999',
  ].join(' && '));
  const script = `
    const net = require('node:net');
    const addon = require(${JSON.stringify(ADDON_PATH)});
    const seen = [];
    const onConn = (s) => { seen.push({ local: s.localAddress + ':' + s.localPort, orig: addon.originalDst(s._handle.fd) }); s.end(); };
    const v4 = net.createServer(onConn).listen(15999, '0.0.0.0');
    const v6 = net.createServer(onConn).listen({ port: 15999, host: '::', ipv6Only: true });
    const t = net.createServer().listen(0, '0.0.0.0', () => { addon.setTransparent(t._handle.fd); t.close(); });
    const dial = (host, port) => new Promise((r) => net.connect(port, host).on('close', r).on('error', r).resume());
    setTimeout(async () => {
      await dial('10.9.9.9', 80);
      await dial('fd00::9', 8443);
      await dial('127.0.0.1', 15999);
      console.log(JSON.stringify(seen));
      process.exit(0);
    }, 200);`;
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout) as Array<{ local: string; orig: { family: number; address: string; port: number } | null }>;
  assert.deepEqual(seen[0].orig, { family: 4, address: '10.9.9.9', port: 80 });
  assert.deepEqual(seen[1].orig, { family: 6, address: 'fd00::9', port: 8443 });
  // not redirected: conntrack's original destination is the socket's own address
  assert.ok(seen[2].orig === null || (seen[2].orig.address === '127.0.0.1' && seen[2].orig.port === 15999), JSON.stringify(seen[2]));
});
