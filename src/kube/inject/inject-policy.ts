/**
 * Whether a pod gets a sidecar (Istio's injection policy): never a pod already injected
 * (`sidecar.istio.io/status`) or on the host network; a pod's `sidecar.istio.io/inject` label (or
 * the older annotation) says yes or no; otherwise its namespace decides: `istio-injection=enabled`
 * or an `istio.io/rev` label, and `istio-injection=disabled` never. Offline injection
 * (`clew kube-inject`) passes no namespace labels: there only the pod's own opt-out counts.
 */
import type { KubeObject } from '../kube-client.js';

export const INJECT_LABEL = 'sidecar.istio.io/inject';
export const STATUS_ANNOTATION = 'sidecar.istio.io/status';

export type InjectDecision = { inject: true } | { inject: false; reason: string };

function truthy(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().toLowerCase();
  if (['true', 'y', 'yes', 'enabled', 'on'].includes(s)) return true;
  if (['false', 'n', 'no', 'disabled', 'off'].includes(s)) return false;
  return undefined;
}

export function injectionPolicy(pod: KubeObject, namespaceLabels: Record<string, string> | 'offline'): InjectDecision {
  const md = pod.metadata ?? ({} as KubeObject['metadata']);
  if (md.annotations?.[STATUS_ANNOTATION]) return { inject: false, reason: 'already injected' };
  if (pod.spec?.hostNetwork) return { inject: false, reason: 'host network' };
  const own = truthy(md.labels?.[INJECT_LABEL]) ?? truthy(md.annotations?.[INJECT_LABEL]);
  if (own === false) return { inject: false, reason: `${INJECT_LABEL}=false` };
  if (namespaceLabels === 'offline' || own === true) return { inject: true };
  const ns = namespaceLabels['istio-injection'];
  if (ns === 'disabled') return { inject: false, reason: 'namespace istio-injection=disabled' };
  if (ns === 'enabled' || namespaceLabels['istio.io/rev']) return { inject: true };
  return { inject: false, reason: 'namespace not labelled for injection' };
}
