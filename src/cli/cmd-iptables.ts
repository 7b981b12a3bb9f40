/**
 * `clew iptables [flags]` (istio-iptables' role, the istio-init container) and `clew iptables
 * clean`: programs or removes the transparent capture rules in the current network namespace.
 * Run it inside the pod's namespace (`ip netns exec POD clew iptables`); needs root.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { applyCapture, cleanCapture } from '../capture/capture-apply.js';
import { parseCaptureFlags, type CaptureConfig, type CaptureFlags } from '../capture/capture-config.js';
import { CaptureError } from '../capture/capture-errors.js';
import { buildCaptureRules, restoreText } from '../capture/capture-rules.js';
import { CliError, UsageError } from './errors.js';

function ruleOptions(cmd: Command): Command {
  return cmd
    .option('-p, --envoy-port <port>', 'port all outbound TCP traffic is redirected to (virtualOutbound)')
    .option('-z, --inbound-capture-port <port>', 'port all inbound TCP traffic is redirected to (virtualInbound)')
    .option('-e, --inbound-tunnel-port <port>', 'the tunnel (HBONE) port, never captured inbound')
    .option('-u, --proxy-uid <uids>', "uids whose traffic is not captured (the proxy's)")
    .option('-g, --proxy-gid <gids>', 'gids whose traffic is not captured (default: the uids)')
    .option('-m, --istio-inbound-interception-mode <mode>', 'REDIRECT or TPROXY')
    .option('-b, --istio-inbound-ports <ports>', "inbound ports captured: '*' for all, a comma list, '' for none")
    .option('-d, --istio-local-exclude-ports <ports>', "inbound ports not captured (with -b '*')")
    .option('-i, --istio-service-cidr <cidrs>', "outbound destinations captured: '*' for all, CIDRs, '' for none")
    .option('-x, --istio-service-exclude-cidr <cidrs>', 'outbound destinations never captured')
    .option('-q, --istio-outbound-ports <ports>', 'outbound ports always captured')
    .option('-o, --istio-local-outbound-ports-exclude <ports>', 'outbound ports never captured')
    .option('-c, --istio-exclude-interfaces <nics>', 'interfaces whose traffic is never captured')
    .option('-k, --kube-virt-interfaces <nics>', 'virtual interfaces whose inbound traffic is treated as outbound')
    .option('-t, --istio-inbound-tproxy-mark <mark>', 'TPROXY packet mark')
    .option('-r, --istio-inbound-tproxy-route-table <n>', 'TPROXY route table')
    .option('--redirect-dns', 'send DNS (UDP/TCP 53) to the DNS proxy on 15053 (the proxy uid/gid exempt)')
    .option('--capture-all-dns', 'with --redirect-dns: every destination on port 53, not only the name servers')
    .option('--dns-servers <ips>', 'with --redirect-dns: the name servers whose traffic is captured (default: /etc/resolv.conf)')
    .option('--drop-invalid', 'drop packets conntrack finds INVALID')
    .option('--no-ipv6', 'IPv4 rules only (default: IPv6 too when ip6tables works here)')
    .option('--force-iptables-binary <bin>', 'iptables, iptables-nft or iptables-legacy (default: the backend already in use here, else the system default)');
}

/** The name servers of a resolv.conf. */
export function resolvConfServers(text: string): string[] {
  return text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((s): s is string => !!s);
}

function flagsFrom(o: Record<string, any>): CaptureFlags {
  let dnsServers = o.dnsServers as string | undefined;
  if (o.redirectDns && !o.captureAllDns && dnsServers === undefined) {
    try {
      dnsServers = resolvConfServers(readFileSync('/etc/resolv.conf', 'utf8')).join(',');
    } catch {
      dnsServers = '';
    }
  }
  return {
    proxyPort: o.envoyPort,
    inboundCapturePort: o.inboundCapturePort,
    inboundTunnelPort: o.inboundTunnelPort,
    proxyUid: o.proxyUid,
    proxyGid: o.proxyGid,
    mode: o.istioInboundInterceptionMode,
    inboundPorts: o.istioInboundPorts,
    inboundPortsExclude: o.istioLocalExcludePorts,
    outboundIpRanges: o.istioServiceCidr,
    outboundIpRangesExclude: o.istioServiceExcludeCidr,
    outboundPortsInclude: o.istioOutboundPorts,
    outboundPortsExclude: o.istioLocalOutboundPortsExclude,
    excludeInterfaces: o.istioExcludeInterfaces,
    kubeVirtInterfaces: o.kubeVirtInterfaces,
    tproxyMark: o.istioInboundTproxyMark,
    tproxyRouteTable: o.istioInboundTproxyRouteTable,
    redirectDns: !!o.redirectDns,
    captureAllDns: !!o.captureAllDns,
    dnsServers,
    ipv6: o.ipv6 !== false,
    dropInvalid: !!o.dropInvalid,
  };
}

function toCli(err: unknown): unknown {
  if (!(err instanceof CaptureError)) return err;
  if (err.code === 'CLEW_CAPTURE_BAD_OPTION') return new UsageError(err.message);
  return new CliError(err.message, 1, err.code);
}

/** The rules as iptables-restore input, one section per family (what --dry-run prints). */
export function dryRunText(cfg: CaptureConfig): string {
  return buildCaptureRules(cfg).map((fr) => `# IPv${fr.family}: ${fr.family === 6 ? 'ip6tables' : 'iptables'}-restore --noflush\n${restoreText(fr.rules)}`).join('');
}

function requireRoot(): void {
  if (process.getuid?.() !== 0) throw new CliError('clew iptables changes the network namespace\'s tables: run it as root (or use --dry-run)', 1, 'CLEW_CAPTURE_NOT_ROOT');
}

export function register(program: Command): void {
  const cmd = ruleOptions(
    program
      .command('iptables')
      .description("program the transparent capture rules in this network namespace (istio-iptables' role): TCP in -> 15006, TCP out -> 15001")
      .option('-n, --dry-run', 'print the rules (iptables-restore input) without applying them'),
  ).action((o: Record<string, any>) => {
    try {
      const cfg = parseCaptureFlags(flagsFrom(o));
      if (o.dryRun) {
        process.stdout.write(dryRunText(cfg));
        return;
      }
      requireRoot();
      const r = applyCapture(cfg, { forceBinary: o.forceIptablesBinary, log: (l) => process.stderr.write(`clew iptables: ${l}\n`) });
      process.stdout.write(`clew iptables: capture rules applied (IPv${r.families.join(', IPv')}, iptables backend ${r.backend}); remove them with: clew iptables clean\n`);
    } catch (err) {
      throw toCli(err);
    }
  });
  ruleOptions(
    cmd
      .command('clean')
      .description('remove the capture rules from this network namespace: every ISTIO_* chain, the jumps to them and the recorded rules'),
  ).action((_o: Record<string, any>, sub: Command) => {
    try {
      requireRoot();
      const o = sub.optsWithGlobals();
      const given = Object.keys(sub.opts()).some((k) => !['ipv6', 'forceIptablesBinary'].includes(k));
      const r = cleanCapture(given ? parseCaptureFlags(flagsFrom(o)) : undefined, { forceBinary: o.forceIptablesBinary });
      const n = r.removed.reduce((a, x) => a + x.lines, 0);
      process.stdout.write(n > 0 ? `clew iptables: capture rules removed (iptables backend ${r.backend})\n` : 'clew iptables: no capture rules here\n');
    } catch (err) {
      throw toCli(err);
    }
  });
}
