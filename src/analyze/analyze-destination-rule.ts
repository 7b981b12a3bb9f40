/**
 * IST0128 / IST0129 (Istio's CaCertificateAnalyzer): a DestinationRule originating TLS (SIMPLE or
 * MUTUAL) without caCertificates does not verify the server's certificate, at the destination
 * level or per port. A credentialName with a workloadSelector brings its own CA, as in Istio.
 */
import type { ConfigResource, DestinationRuleSpec } from '../config/types.js';
import type { ClientTLSSettings } from '../config/types.js';
import { analysisMessage, type AnalysisMessage } from './analyze-message.js';

function unverified(tls: ClientTLSSettings | undefined, spec: DestinationRuleSpec): boolean {
  if (tls?.mode !== 'SIMPLE' && tls?.mode !== 'MUTUAL') return false;
  if (tls.caCertificates) return false;
  return !(tls.credentialName && spec.workloadSelector);
}

export function destinationRuleCaCertificates(resources: readonly ConfigResource[]): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const dr of resources) {
    if (dr.kind !== 'DestinationRule') continue;
    const spec = dr.spec as DestinationRuleSpec;
    const full = `${dr.metadata.namespace}/${dr.metadata.name}`;
    const tls = spec.trafficPolicy?.tls;
    if (unverified(tls, spec)) {
      out.push(analysisMessage(dr, 'IST0128',
        `DestinationRule ${full} in namespace ${dr.metadata.namespace} has TLS mode set to ${tls!.mode} but no caCertificates are set to validate server identity for host: ${spec.host}`,
        'spec.trafficPolicy.tls'));
    }
    (spec.trafficPolicy?.portLevelSettings ?? []).forEach((p, i) => {
      if (!unverified(p.tls, spec)) return;
      out.push(analysisMessage(dr, 'IST0129',
        `DestinationRule ${full} in namespace ${dr.metadata.namespace} has TLS mode set to ${p.tls!.mode} but no caCertificates are set to validate server identity for host: ${spec.host} at port number:${p.port?.number ?? 0}`,
        `spec.trafficPolicy.portLevelSettings[${i}].tls`));
    });
  }
  return out;
}
