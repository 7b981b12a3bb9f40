/**
 * IST0162 GatewayPortNotDefinedOnService (Istio's IngressGatewayPortAnalyzer; it replaced the
 * retired IST0104 GatewayPortNotOnWorkload): a Gateway server port that no Service of the
 * gateway's workloads exposes, as a port or as a TCP target port. The gateway's workloads are the
 * known workloads its selector matches; with none known (files alone), a Service whose selector
 * is part of the gateway's selector is taken to select them. A gateway no Service selects is not
 * reported (Clew runs gateways without a Service).
 */
import type { ConfigResource, GatewaySpec, KubeServiceSpec } from '../config/types.js';
import { analysisMessage, type AnalysisMessage } from './analyze-message.js';
import { selects, type AnalyzerContext } from './analyzer-types.js';

/** Kubernetes' `k=v,k2=v2` form of a selector, keys sorted. */
export function selectorString(sel: Record<string, string> | undefined): string {
  return Object.keys(sel ?? {}).sort().map((k) => `${k}=${sel![k]}`).join(',');
}

export function gatewayPortsOnService(resources: readonly ConfigResource[], ctx: AnalyzerContext): AnalysisMessage[] {
  const services = resources.filter((r) => r.kind === 'Service');
  const out: AnalysisMessage[] = [];
  for (const gw of resources) {
    if (gw.kind !== 'Gateway') continue;
    const spec = gw.spec as GatewaySpec;
    const selector = spec.selector ?? {};
    if (Object.keys(selector).length === 0) continue;
    const pods = ctx.workloads.filter((w) => selects(selector, w.labels));
    const chosen = services.filter((s) => {
      const sel = (s.spec as KubeServiceSpec).selector;
      if (!sel || Object.keys(sel).length === 0) return false;
      if (pods.length > 0) return pods.some((p) => p.namespace === s.metadata.namespace && selects(sel, p.labels));
      return selects(sel, selector);
    });
    if (chosen.length === 0) continue;
    const exposed = new Set<number>();
    for (const s of chosen) {
      for (const p of (s.spec as KubeServiceSpec).ports ?? []) {
        if ((p.protocol ?? 'TCP') !== 'TCP') continue;
        exposed.add(p.port);
        if (typeof p.targetPort === 'number') exposed.add(p.targetPort);
      }
    }
    (spec.servers ?? []).forEach((server, i) => {
      if (exposed.has(server.port.number)) return;
      out.push(analysisMessage(gw, 'IST0162',
        `The gateway is listening on a target port (port ${server.port.number}) that is not defined in the Service associated with its workload instances (Pod selector ${selectorString(selector)}). If you need to access the gateway port through the gateway Service, it will not be available.`,
        `spec.servers[${i}].port.number`));
    });
  }
  return out;
}
