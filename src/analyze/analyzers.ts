/**
 * Gateway, VirtualService-gateway and annotation checks of istioctl analyze that the config
 * validator does not make: IST0132 (a VirtualService host no server of its gateway accepts),
 * IST0145 (two gateways with the same selector, port and a common host), IST0108 (an istio.io
 * annotation Istio does not know). The list of every analyzer is analyzer-list.ts.
 */
import type { ConfigResource, GatewaySpec, VirtualServiceSpec } from '../config/types.js';
import { analysisMessage as msg, type AnalysisMessage } from './analyze-message.js';

/** Istio's annotation names (istio/api annotation list) that Clew's resources and workloads may carry. */
const KNOWN_ANNOTATIONS = new Set([
  'sidecar.istio.io/inject', 'sidecar.istio.io/status', 'sidecar.istio.io/interceptionMode', 'sidecar.istio.io/logLevel',
  'sidecar.istio.io/componentLogLevel', 'sidecar.istio.io/agentLogLevel', 'sidecar.istio.io/proxyCPU', 'sidecar.istio.io/proxyCPULimit',
  'sidecar.istio.io/proxyMemory', 'sidecar.istio.io/proxyMemoryLimit', 'sidecar.istio.io/proxyImage', 'sidecar.istio.io/rewriteAppHTTPProbers',
  'sidecar.istio.io/bootstrapOverride', 'sidecar.istio.io/statsInclusionPrefixes', 'sidecar.istio.io/statsInclusionSuffixes',
  'sidecar.istio.io/statsInclusionRegexps', 'sidecar.istio.io/userVolume', 'sidecar.istio.io/userVolumeMount', 'sidecar.istio.io/discoveryAddress',
  'sidecar.istio.io/extraStatTags', 'sidecar.istio.io/enableCoreDump', 'proxy.istio.io/config', 'proxy.istio.io/overrides',
  'traffic.sidecar.istio.io/includeOutboundIPRanges', 'traffic.sidecar.istio.io/excludeOutboundIPRanges', 'traffic.sidecar.istio.io/includeInboundPorts',
  'traffic.sidecar.istio.io/excludeInboundPorts', 'traffic.sidecar.istio.io/includeOutboundPorts', 'traffic.sidecar.istio.io/excludeOutboundPorts',
  'traffic.sidecar.istio.io/excludeInterfaces', 'traffic.sidecar.istio.io/kubevirtInterfaces',
  'status.sidecar.istio.io/port', 'readiness.status.sidecar.istio.io/applicationPorts', 'readiness.status.sidecar.istio.io/initialDelaySeconds',
  'readiness.status.sidecar.istio.io/periodSeconds', 'readiness.status.sidecar.istio.io/failureThreshold',
  'prometheus.istio.io/merge-metrics', 'inject.istio.io/templates', 'networking.istio.io/exportTo', 'networking.istio.io/traffic-distribution',
  'istio.io/dry-run', 'istio.io/rev', 'istio.io/use-waypoint', 'istio.io/dataplane-mode', 'ambient.istio.io/redirection',
  'kubectl.kubernetes.io/default-container', 'kubectl.kubernetes.io/default-logs-container',
]);

export function unknownAnnotations(resources: readonly ConfigResource[]): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const r of resources) {
    for (const key of Object.keys(r.metadata.annotations ?? {})) {
      const domain = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
      if (!/(^|\.)istio\.io$/.test(domain) || KNOWN_ANNOTATIONS.has(key)) continue;
      out.push(msg(r, 'IST0108', `Unknown annotation: ${key}`, `metadata.annotations.${key}`));
    }
  }
  return out;
}

/** `ns/host` of a gateway server host (`./host` and a bare host are the gateway's namespace... or any: Istio's `*`). */
function serverHost(h: string): { ns: string; host: string } {
  const i = h.indexOf('/');
  return i < 0 ? { ns: '*', host: h } : { ns: h.slice(0, i), host: h.slice(i + 1) };
}

/** Istio's host match: `*` matches all, `*.x.com` matches any name ending in `.x.com`, else exact (both ways for wildcards). */
export function hostsOverlap(a: string, b: string): boolean {
  if (a === '*' || b === '*') return true;
  if (a === b) return true;
  const wild = (w: string, n: string) => w.startsWith('*.') && (n.endsWith(w.slice(1)) || (n.startsWith('*.') && n.endsWith(w.slice(1))));
  return wild(a, b) || wild(b, a);
}

function gatewayKey(ref: string, vsNs: string): string {
  return ref.includes('/') ? ref : `${vsNs}/${ref}`;
}

export function virtualServiceHostsInGateways(resources: readonly ConfigResource[]): AnalysisMessage[] {
  const gateways = new Map(resources.filter((r) => r.kind === 'Gateway').map((g) => [`${g.metadata.namespace}/${g.metadata.name}`, g]));
  const out: AnalysisMessage[] = [];
  for (const vs of resources.filter((r) => r.kind === 'VirtualService')) {
    const spec = vs.spec as VirtualServiceSpec;
    (spec.gateways ?? []).forEach((ref) => {
      if (ref === 'mesh') return;
      const gw = gateways.get(gatewayKey(ref, vs.metadata.namespace));
      if (!gw) return; // IST0101 from the validator
      const servers = (gw.spec as GatewaySpec).servers ?? [];
      const accepted = servers.flatMap((s) => s.hosts.map(serverHost))
        .filter((h) => h.ns === '*' || h.ns === vs.metadata.namespace || (h.ns === '.' && gw.metadata.namespace === vs.metadata.namespace));
      (spec.hosts ?? []).forEach((host, i) => {
        if (accepted.some((h) => hostsOverlap(h.host, host))) return;
        out.push(msg(vs, 'IST0132', `one or more host [${host}] defined in VirtualService ${vs.metadata.namespace}/${vs.metadata.name} not found in Gateway ${gw.metadata.namespace}/${gw.metadata.name}.`, `spec.hosts[${i}]`));
      });
    });
  }
  return out;
}

function selectorKey(sel: Record<string, string> | undefined): string {
  return Object.entries(sel ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',');
}

export function conflictingGateways(resources: readonly ConfigResource[]): AnalysisMessage[] {
  const gws = resources.filter((r) => r.kind === 'Gateway');
  const out: AnalysisMessage[] = [];
  for (let i = 0; i < gws.length; i++) {
    for (let j = 0; j < gws.length; j++) {
      if (i === j) continue;
      const a = gws[i];
      const b = gws[j];
      if (selectorKey((a.spec as GatewaySpec).selector) !== selectorKey((b.spec as GatewaySpec).selector)) continue;
      for (const sa of (a.spec as GatewaySpec).servers ?? []) {
        const conflict = ((b.spec as GatewaySpec).servers ?? []).find((sb) => sb.port.number === sa.port.number &&
          sa.hosts.some((ha) => sb.hosts.some((hb) => hostsOverlap(serverHost(ha).host, serverHost(hb).host))));
        if (!conflict) continue;
        out.push(msg(a, 'IST0145',
          `Conflict with gateways ${b.metadata.namespace}/${b.metadata.name} (workload selector ${selectorKey((a.spec as GatewaySpec).selector) || '(none)'}, port ${sa.port.number}, hosts ${sa.hosts.join(', ')}).`,
          'spec.servers'));
        break;
      }
    }
  }
  return out;
}
