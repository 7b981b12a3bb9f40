/**
 * Rule generation is a pure function: the tables must be istio-iptables' own for the same flags
 * (the facts file's nat table for the injector's defaults, and istio-iptables' published dry-run
 * tables for TPROXY, DNS capture, CIDR ranges, virtual interfaces).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCaptureFlags, parseCidr, type CaptureFlags } from '../../src/capture/capture-config.js';
import { CaptureError } from '../../src/capture/capture-errors.js';
import { buildCaptureRules, restoreText } from '../../src/capture/capture-rules.js';
import { resolvConfServers } from '../../src/cli/cmd-iptables.js';

function tables(flags: CaptureFlags): { v4: string; v6: string } {
  const fams = buildCaptureRules(parseCaptureFlags(flags));
  return {
    v4: restoreText(fams.find((f) => f.family === 4)!.rules),
    v6: fams.find((f) => f.family === 6) ? restoreText(fams.find((f) => f.family === 6)!.rules) : '',
  };
}

const lines = (s: string): string => s.trim().split('\n').map((l) => l.trim()).join('\n') + '\n';

// istio-iptables' common part of the nat table (uid/gid 1337, tunnel 15008)
const NAT_HEAD = `* nat
-N ISTIO_INBOUND
-N ISTIO_REDIRECT
-N ISTIO_IN_REDIRECT
-N ISTIO_OUTPUT
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006`;

const OWNER_1337 = `-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN`;

test('defaults: the facts file nat table (-p 15001 -z 15006 -u 1337 -m REDIRECT -i * -b * -d 15090,15021,15020)', () => {
  const { v4, v6 } = tables({});
  assert.equal(v4, lines(`${NAT_HEAD}
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN
-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN
-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT
-A OUTPUT -j ISTIO_OUTPUT
${OWNER_1337}
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_REDIRECT
COMMIT`));
  // IPv6: the same rules with ::6 and ::1
  assert.match(v6, /-A ISTIO_OUTPUT -o lo -s ::6\/128 -j RETURN/);
  assert.match(v6, /-A ISTIO_OUTPUT -o lo ! -d ::1\/128 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT/);
  assert.match(v6, /-A ISTIO_OUTPUT -d ::1\/128 -j RETURN\n-A ISTIO_OUTPUT -j ISTIO_REDIRECT\nCOMMIT/);
  assert.equal(v6.split('\n').length, v4.split('\n').length);
});

test('no -i, no -b: istio-iptables "empty" table (nothing captured, the chains exist)', () => {
  const { v4 } = tables({ inboundPorts: '', outboundIpRanges: '', inboundPortsExclude: '' });
  assert.equal(v4, lines(`${NAT_HEAD}
-A OUTPUT -j ISTIO_OUTPUT
${OWNER_1337}
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
COMMIT`));
});

test('TPROXY with -b 32000,31000: mangle table as istio-iptables builds it', () => {
  const { v4 } = tables({ mode: 'TPROXY', inboundPorts: '32000,31000', outboundIpRanges: '', inboundPortsExclude: '' });
  assert.equal(v4, lines(`* mangle
-N ISTIO_DIVERT
-N ISTIO_TPROXY
-N ISTIO_INBOUND
-A ISTIO_DIVERT -j MARK --set-mark 1337
-A ISTIO_DIVERT -j ACCEPT
-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006
-A PREROUTING -p tcp -j ISTIO_INBOUND
-A ISTIO_INBOUND -p tcp --dport 32000 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
-A ISTIO_INBOUND -p tcp --dport 32000 -j ISTIO_TPROXY
-A ISTIO_INBOUND -p tcp --dport 31000 -m conntrack --ctstate RELATED,ESTABLISHED -j ISTIO_DIVERT
-A ISTIO_INBOUND -p tcp --dport 31000 -j ISTIO_TPROXY
-A PREROUTING -p tcp -m mark --mark 1337 -j CONNMARK --save-mark
-A OUTPUT -p tcp -o lo -m mark --mark 1337 -j RETURN
-A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --uid-owner 1337 -j MARK --set-mark 1338
-A OUTPUT ! -d 127.0.0.1/32 -p tcp -o lo -m owner --gid-owner 1337 -j MARK --set-mark 1338
-A OUTPUT -p tcp -m connmark --mark 1337 -j CONNMARK --restore-mark
-I ISTIO_INBOUND 1 -p tcp -m mark --mark 1337 -j RETURN
-I ISTIO_INBOUND 2 -p tcp -s 127.0.0.6/32 -i lo -j RETURN
-I ISTIO_INBOUND 3 -p tcp -i lo -m mark ! --mark 1338 -j RETURN
COMMIT
${NAT_HEAD}
-A OUTPUT -j ISTIO_OUTPUT
${OWNER_1337}
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
COMMIT`));
});

test('DNS capture, several uids/gids, CIDR include/exclude: istio-iptables "ip-range" table', () => {
  const { v4, v6 } = tables({
    inboundPorts: '', inboundPortsExclude: '', outboundIpRangesExclude: '1.1.0.0/16', outboundIpRanges: '9.9.0.0/16',
    redirectDns: true, proxyUid: '3,4', proxyGid: '1,2', dnsServers: '127.0.0.53', ipv6: false,
  });
  assert.equal(v6, '');
  assert.equal(v4, lines(`* nat
-N ISTIO_INBOUND
-N ISTIO_REDIRECT
-N ISTIO_IN_REDIRECT
-N ISTIO_OUTPUT
-N ISTIO_OUTPUT_DNS
-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN
-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001
-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006
-A OUTPUT -j ISTIO_OUTPUT
-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 3 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 3 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 4 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT -m owner --uid-owner 4 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 1 -j RETURN
-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 2 -j ISTIO_IN_REDIRECT
-A ISTIO_OUTPUT -o lo -p tcp ! --dport 53 -m owner ! --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT -m owner --gid-owner 2 -j RETURN
-A ISTIO_OUTPUT -j ISTIO_OUTPUT_DNS
-A ISTIO_OUTPUT_DNS -p tcp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-ports 15053
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053
-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN
-A ISTIO_OUTPUT -d 1.1.0.0/16 -j RETURN
-A ISTIO_OUTPUT -d 9.9.0.0/16 -j ISTIO_REDIRECT
COMMIT
* raw
-N ISTIO_OUTPUT_DNS
-N ISTIO_INBOUND
-A OUTPUT -j ISTIO_OUTPUT_DNS
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 3 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 3 -j CT --zone 2
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --uid-owner 4 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --uid-owner 4 -j CT --zone 2
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 1 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 1 -j CT --zone 2
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -m owner --gid-owner 2 -j CT --zone 1
-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner --gid-owner 2 -j CT --zone 2
-A PREROUTING -j ISTIO_INBOUND
-A ISTIO_OUTPUT_DNS -p udp --dport 53 -d 127.0.0.53/32 -j CT --zone 2
-A ISTIO_INBOUND -p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1
COMMIT`));
});

test('IPv6 CIDRs go to ip6tables only; virtual interfaces are inserted first in PREROUTING', () => {
  const { v4, v6 } = tables({
    inboundPorts: '4000,5000', inboundPortsExclude: '6000,7000,', kubeVirtInterfaces: 'eth0,eth1',
    outboundIpRangesExclude: '2001:db8::/32', outboundIpRanges: '2001:db8::/32',
  });
  assert.doesNotMatch(v4, /2001:db8/);
  assert.match(v4, /-I PREROUTING 1 -i eth0 -j RETURN\n-I PREROUTING 1 -i eth1 -j RETURN\n/);
  assert.match(v4, /-A ISTIO_INBOUND -p tcp --dport 4000 -j ISTIO_IN_REDIRECT\n-A ISTIO_INBOUND -p tcp --dport 5000 -j ISTIO_IN_REDIRECT\n/);
  assert.doesNotMatch(v4, /6000|7000/, '-d only applies with -b *');
  assert.match(v6, /-A ISTIO_OUTPUT -d ::1\/128 -j RETURN\n-A ISTIO_OUTPUT -d 2001:db8::\/32 -j RETURN\n-I PREROUTING 1 -i eth0 -d 2001:db8::\/32 -j ISTIO_REDIRECT\n-I PREROUTING 1 -i eth1 -d 2001:db8::\/32 -j ISTIO_REDIRECT\n-A ISTIO_OUTPUT -d 2001:db8::\/32 -j ISTIO_REDIRECT\nCOMMIT/);
});

test('-o and -q: excluded outbound ports return early (TCP and UDP), included ones always redirect', () => {
  const { v4 } = tables({ outboundPortsExclude: '6379,3306', outboundPortsInclude: '32000', outboundIpRanges: '' });
  const out = v4.split('\n');
  const at = (l: string): number => out.indexOf(l);
  assert.ok(at('-A ISTIO_OUTPUT -p tcp --dport 6379 -j RETURN') > at('-A OUTPUT -j ISTIO_OUTPUT'));
  assert.ok(at('-A ISTIO_OUTPUT -p udp --dport 3306 -j RETURN') < at('-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN'));
  assert.ok(at('-A ISTIO_OUTPUT -p tcp --dport 32000 -j ISTIO_REDIRECT') > at('-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN'));
  assert.equal(out.filter((l) => l === '-A ISTIO_OUTPUT -j ISTIO_REDIRECT').length, 0, "-i '' captures no CIDR");
});

test('an explicit loopback include drops the "lo, not the proxy: RETURN" rules', () => {
  const { v4 } = tables({ outboundIpRanges: '127.1.2.3/32', redirectDns: true, dnsServers: '127.0.0.53', ipv6: false });
  assert.doesNotMatch(v4, /! --uid-owner 1337 -j RETURN/);
  assert.match(v4, /-A ISTIO_OUTPUT -d 127.1.2.3\/32 -j ISTIO_REDIRECT\nCOMMIT/);
});

test('bad flags are errors naming the flag', () => {
  const bad = (flags: CaptureFlags, re: RegExp): void => {
    assert.throws(() => parseCaptureFlags(flags), (e: unknown) => e instanceof CaptureError && e.code === 'CLEW_CAPTURE_BAD_OPTION' && re.test(e.message));
  };
  bad({ mode: 'NAT' }, /^-m: must be REDIRECT or TPROXY/);
  bad({ proxyPort: '70000' }, /^-p: port 70000 out of range/);
  bad({ inboundPortsExclude: '15090,abc' }, /^-d: invalid port "abc"/);
  bad({ outboundIpRanges: '10.0.0.0/33' }, /^-i: invalid prefix length/);
  bad({ outboundIpRangesExclude: '*' }, /^-x: '\*' is not allowed/);
  bad({ outboundIpRangesExclude: 'foo' }, /^-x: invalid CIDR "foo"/);
  bad({ proxyUid: '' }, /^-u: at least one uid/);
  bad({ excludeInterfaces: 'a-very-long-interface-name' }, /^-c: invalid interface name/);
  bad({ dnsServers: '1.2.3' }, /^--dns-servers: invalid address/);
});

test('CIDRs are normalised as iptables prints them; loopback is the written address', () => {
  assert.deepEqual(parseCidr('10.1.2.3/8', '-x'), { family: 4, text: '10.0.0.0/8', loopback: false });
  assert.deepEqual(parseCidr('192.168.7.9', '-x'), { family: 4, text: '192.168.7.9/32', loopback: false });
  assert.deepEqual(parseCidr('2001:DB8:0:0:1::/32', '-x'), { family: 6, text: '2001:db8::/32', loopback: false });
  assert.deepEqual(parseCidr('::1/128', '-i'), { family: 6, text: '::1/128', loopback: true });
  assert.deepEqual(parseCidr('127.0.0.5/8', '-i'), { family: 4, text: '127.0.0.0/8', loopback: true });
});

test('name servers come from resolv.conf', () => {
  assert.deepEqual(resolvConfServers('# x\nsearch a.b\nnameserver 10.0.0.2\n nameserver  fd00::53 \noptions ndots:5\n'), ['10.0.0.2', 'fd00::53']);
});
