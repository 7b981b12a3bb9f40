/**
 * `clew iptables` and `clew iptables clean` for real, in namespaces this test creates, with both
 * iptables backends Debian ships (nft and legacy): every generated rule is in the kernel's tables,
 * applying twice changes nothing, a re-apply with other flags leaves none of the old rules, a
 * failure (a rule iptables refuses, or the IPv6 family failing after IPv4 committed) leaves the
 * tables exactly as they were, TPROXY's policy routing comes and goes, and clean returns the
 * namespace to its state before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCaptureFlags, type CaptureFlags } from '../../src/capture/capture-config.js';
import { buildCaptureRules } from '../../src/capture/capture-rules.js';
import { CLEW_BIN, REPO_ROOT } from '../helpers/paths.js';
import { addNetns, saveState, sh } from '../helpers/netns.js';

const records = mkdtempSync(join(tmpdir(), 'clew-iptables-rec-'));
process.once('exit', () => rmSync(records, { recursive: true, force: true }));
const ENV = { CLEW_IPTABLES_RECORD_DIR: records };

function clew(ns: string, args: string, allowFail = false): { code: number; out: string } {
  const r = sh(ns, `${process.execPath} ${CLEW_BIN} ${args}`, { env: ENV, allowFail });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The lines that matter: rules and user chains (an nft table that exists empty counts as none). */
function significant(state: string): string {
  return state.split('\n').filter((l) => l.startsWith('-A ') || (l.startsWith(':') && !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l))).join('\n');
}

function assertAllRulesPresent(ns: string, bin: string, flags: CaptureFlags): void {
  for (const fr of buildCaptureRules(parseCaptureFlags(flags))) {
    const tool = fr.family === 6 ? bin.replace(/^iptables/, 'ip6tables') : bin;
    for (const r of fr.rules) {
      const quoted = r.spec.map((a) => (a === '!' ? "'!'" : a)).join(' ');
      const res = sh(ns, `${tool} -t ${r.table} -C ${r.chain} ${quoted}`, { allowFail: true });
      assert.equal(res.code, 0, `IPv${fr.family} ${r.table} ${r.chain} ${r.spec.join(' ')} missing: ${res.stderr}`);
    }
  }
}

for (const [backendName, bin] of [['nft', 'iptables-nft'], ['legacy', 'iptables-legacy']] as const) {
  test(`clew iptables with the ${backendName} backend: apply, idempotent, re-apply, failure, TPROXY, clean`, { timeout: 120_000 }, () => {
    const ns = addNetns(`ipt-${backendName}`);
    const b6 = bin.replace(/^iptables/, 'ip6tables');
    const force = `--force-iptables-binary ${bin}`;
    const before4 = saveState(ns, bin);
    const before6 = saveState(ns, b6);

    // defaults, both families
    const first = clew(ns, `iptables ${force}`);
    assert.match(first.out, new RegExp(`applied \\(IPv4, IPv6, iptables backend ${backendName}\\)`));
    assertAllRulesPresent(ns, bin, {});
    const applied4 = saveState(ns, bin);
    assert.match(applied4, /-A OUTPUT -j ISTIO_OUTPUT/);
    // the other backend sees nothing (no mixing)
    const other = backendName === 'nft' ? 'iptables-legacy' : 'iptables-nft';
    assert.doesNotMatch(saveState(ns, other), /ISTIO/);

    // again: the same tables (no duplicate jumps, no leftovers); the recorded backend is kept
    clew(ns, 'iptables');
    assert.equal(saveState(ns, bin), applied4);
    assert.equal(saveState(ns, bin).split('\n').filter((l) => l === '-A OUTPUT -j ISTIO_OUTPUT').length, 1);

    // other flags: the old rules are gone, the new ones in
    const flags: CaptureFlags = { inboundPortsExclude: '1234', outboundPortsExclude: '6379', outboundIpRangesExclude: '10.9.0.0/16', excludeInterfaces: 'veth9' };
    clew(ns, `iptables -d 1234 -o 6379 -x 10.9.0.0/16 -c veth9`);
    assertAllRulesPresent(ns, bin, flags);
    const second = saveState(ns, bin);
    assert.doesNotMatch(second, /--dport 15090/);
    assert.match(second, /-A PREROUTING -i veth9 -j RETURN/);
    const second6 = saveState(ns, b6);

    // a rule iptables refuses (unknown user): nothing changes, the error says why
    const refused = clew(ns, 'iptables -u no-such-user-xyz', true);
    assert.equal(refused.code, 1, refused.out);
    assert.match(refused.out, /no-such-user-xyz|owner/i);
    assert.equal(saveState(ns, bin), second);
    assert.equal(saveState(ns, b6), second6);

    // IPv4 committed, then IPv6 fails: IPv4 is rolled back to where it was
    const failing = join(records, `fail-${backendName}.sh`);
    writeFileSync(failing, '#!/bin/sh\ncat >/dev/null\necho "injected failure" >&2\nexit 1\n');
    chmodSync(failing, 0o755);
    const script = `import(${JSON.stringify(join(REPO_ROOT, 'dist/src/capture/capture-apply.js'))}).then(async (m) => {
      const { parseCaptureFlags } = await import(${JSON.stringify(join(REPO_ROOT, 'dist/src/capture/capture-config.js'))});
      try {
        m.applyCapture(parseCaptureFlags({ outboundPortsExclude: '9999' }), { recordDir: ${JSON.stringify(records)}, binaryOverride: (n) => n === '${b6}-restore' ? ${JSON.stringify(failing)} : n });
        console.log('applied');
      } catch (e) { console.log(e.code + ': ' + e.message); }
    });`;
    const injected = sh(ns, `${process.execPath} --input-type=module -e '${script.replace(/'/g, "'\\''")}'`).stdout;
    assert.match(injected, /^CLEW_CAPTURE_APPLY_FAILED: .*injected failure/m);
    assert.equal(saveState(ns, bin), second, 'IPv4 back to its state before the failed apply');
    assert.equal(saveState(ns, b6), second6);

    // TPROXY: mangle rules and policy routing
    clew(ns, 'iptables -m TPROXY');
    assertAllRulesPresent(ns, bin, { mode: 'TPROXY' });
    assert.match(sh(ns, 'ip -4 rule show').stdout, /fwmark 0x539 lookup 133/);
    assert.match(sh(ns, 'ip -4 route show table 133').stdout, /local default dev lo/);
    assert.match(sh(ns, 'ip -6 rule show').stdout, /fwmark 0x539 lookup 133/);

    // clean: back to the state before, nothing recorded
    const cleaned = clew(ns, 'iptables clean');
    assert.match(cleaned.out, /capture rules removed/);
    assert.equal(significant(saveState(ns, bin)), significant(before4));
    assert.equal(significant(saveState(ns, b6)), significant(before6));
    assert.doesNotMatch(sh(ns, 'ip rule show').stdout, /fwmark/);
    assert.equal(sh(ns, 'ip -4 route show table 133', { allowFail: true }).stdout.trim(), '');
    assert.equal(readdirSync(records).filter((f) => f.endsWith('.json')).length, 0);
    assert.match(clew(ns, 'iptables clean').out, /no capture rules here/);
  });
}

test('clew iptables refuses to run without root and rejects bad flags before touching anything', () => {
  const ns = addNetns('ipt-flags');
  const before = saveState(ns);
  const r = clew(ns, 'iptables -b 80,http', true);
  assert.equal(r.code, 2);
  assert.match(r.out, /-b: invalid port "http"/);
  assert.equal(saveState(ns), before);
  assert.equal(existsSync(join(records, 'x')), false);
  const nobody = sh(ns, `setpriv --reuid 65534 --regid 65534 --clear-groups ${process.execPath} ${CLEW_BIN} iptables`, { allowFail: true });
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /run it as root/);
});
