/**
 * Name lookups for client-chosen hosts are bounded (issue 23 item 2: "every per-key structure
 * (series, caches, pools, DNS) needs a bound"). Found by the hostile soak (bench/hostile-soak.ts):
 * unique unresolvable Host names on passthrough traffic queued getaddrinfo calls without bound on
 * libuv's four threads, so every later connection by name (and every file write) waited behind
 * them. In a network namespace whose DNS server never answers (dns-flood-scenario.ts), 300 unique
 * names must not stop a name resolved before, an IP literal, or a hosts-file name afterwards; the
 * lookups refused are counted in clew.overflow.dns_lookups.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addNetns, delNetns } from '../../helpers/netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
let ns = '';
let etcDir = '';

before(() => {
  ns = addNetns('dns');
  // `ip netns exec` mounts these over /etc/resolv.conf and /etc/hosts inside the namespace
  etcDir = path.join('/etc/netns', ns);
  fs.mkdirSync(etcDir, { recursive: true });
  fs.writeFileSync(path.join(etcDir, 'resolv.conf'), 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n');
  fs.writeFileSync(path.join(etcDir, 'hosts'), '127.0.0.1 localhost legit.test late.test\n');
});

after(() => {
  delNetns(ns);
  fs.rmSync(etcDir, { recursive: true, force: true });
});

test('300 unique unresolvable Hosts: names resolved before, IP literals and later names still connect; refused lookups are counted', () => {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, path.join(here, 'dns-flood-scenario.js')], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(r.status, 0, `scenario failed: ${r.stderr}${r.stdout}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    warm: { status: number; ms: number }; cachedDuring: { status: number; ms: number }; ipDuring: { status: number; ms: number }; lateAfter: { status: number; ms: number };
    flood: { statuses: Record<string, number>; p50: number; max: number }; overflow: { lookups: number; cache: number }; queries: number; alive: boolean;
  };
  const show = JSON.stringify(out);
  assert.equal(out.warm.status, 200, show);
  assert.ok(out.queries > 0, `the black-hole DNS server saw the flood's queries: ${show}`);
  // a name already resolved does not wait for anyone's lookup (it used to time out behind the flood: 503 after 3 s)
  assert.equal(out.cachedDuring.status, 200, show);
  assert.ok(out.cachedDuring.ms < 1500, show);
  assert.equal(out.ipDuring.status, 200, show);
  // every flood request is answered (503: no address) rather than left hanging
  assert.equal(out.flood.statuses['503'], 300, show);
  // at most 2 running + 256 waiting; the rest are refused at once and counted
  assert.ok(out.overflow.lookups >= 300 - 2 - 256, show);
  // once the flood is over, a new name resolves again
  assert.equal(out.lateAfter.status, 200, show);
  assert.ok(out.alive, show);
});
