/**
 * Istio's PeerAuthentication precedence (pilot/pkg/security/authn ComposePeerAuthentication): of
 * the policies that apply to a workload, the oldest (creationTimestamp, then name) of each scope
 * is chosen: mesh (root namespace, no selector), namespace (no selector), workload (a selector
 * that matches, never in the root namespace). Mesh, then namespace, then workload override the
 * mode unless UNSET; nothing configured is PERMISSIVE. Port-level modes come from the workload
 * policy only (keyed by container port), UNSET inheriting the workload's mode.
 */
import type { MtlsMode, PeerAuthentication } from '../../config/types.js';

export type EffectiveMtlsMode = Exclude<MtlsMode, 'UNSET'>;

export interface EffectiveMtls {
  mode: EffectiveMtlsMode;
  /** container port -> mode */
  ports: Map<number, EffectiveMtlsMode>;
  /** the policies that decided (namespace/name), for debugging */
  from: string[];
}

export const ROOT_NAMESPACE = 'istio-system';

function byAge(a: PeerAuthentication, b: PeerAuthentication): number {
  const ta = a.metadata.creationTimestamp ? Date.parse(a.metadata.creationTimestamp) : 0;
  const tb = b.metadata.creationTimestamp ? Date.parse(b.metadata.creationTimestamp) : 0;
  if (ta !== tb) return ta - tb;
  const ka = `${a.metadata.namespace}/${a.metadata.name}`;
  const kb = `${b.metadata.namespace}/${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function selectorOf(p: PeerAuthentication): Record<string, string> {
  return p.spec?.selector?.matchLabels ?? {};
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function effectivePeerAuthentication(
  policies: readonly PeerAuthentication[],
  workload: { namespace: string; labels: Record<string, string> },
  rootNamespace = ROOT_NAMESPACE,
): EffectiveMtls {
  let mesh: PeerAuthentication | undefined;
  let namespace: PeerAuthentication | undefined;
  let wl: PeerAuthentication | undefined;
  const older = (cur: PeerAuthentication | undefined, p: PeerAuthentication) => (!cur || byAge(p, cur) < 0 ? p : cur);
  for (const p of policies) {
    const ns = p.metadata.namespace;
    if (ns !== workload.namespace && ns !== rootNamespace) continue;
    const sel = selectorOf(p);
    if (Object.keys(sel).length === 0) {
      if (ns === rootNamespace) mesh = older(mesh, p);
      else namespace = older(namespace, p);
    } else if (ns !== rootNamespace && matches(sel, workload.labels)) {
      wl = older(wl, p);
    }
  }
  let mode: EffectiveMtlsMode = 'PERMISSIVE';
  const from: string[] = [];
  for (const p of [mesh, namespace, wl]) {
    const m = p?.spec?.mtls?.mode;
    if (p && m && m !== 'UNSET') {
      mode = m;
      from.push(`${p.metadata.namespace}/${p.metadata.name}`);
    }
  }
  const ports = new Map<number, EffectiveMtlsMode>();
  for (const [port, m] of Object.entries(wl?.spec?.portLevelMtls ?? {})) {
    ports.set(Number(port), !m?.mode || m.mode === 'UNSET' ? mode : m.mode);
  }
  return { mode, ports, from };
}

/** The mode for one container port. */
export function mtlsModeForPort(e: EffectiveMtls, port: number): EffectiveMtlsMode {
  return e.ports.get(port) ?? e.mode;
}
