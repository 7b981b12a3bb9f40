/**
 * VirtualService rule checks of istioctl analyze (Istio reports them from its validation):
 * IST0130 VirtualServiceUnreachableRule (a rule after a match-all rule, or whose matches all
 * repeat earlier ones), IST0131 VirtualServiceIneffectiveMatch (a match equal to one of an
 * earlier rule; the match `name` does not count), over http, tcp and tls rules. And IST0112
 * VirtualServiceDestinationPortSelectorRequired: a destination without a port to a service with
 * more than one port. (Istio's extra check of one uri prefix covering a later one is not made.)
 */
import { resolveHost } from '../config/index.js';
import type { ConfigResource, KubeServiceSpec, ServiceEntrySpec, VirtualServiceSpec } from '../config/types.js';
import { analysisMessage, type AnalysisMessage } from './analyze-message.js';

/** JSON with sorted keys: two matches written in a different key order are the same match. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

interface Rule {
  name?: string;
  match?: Array<Record<string, unknown>>;
}

/** Istio's rule and match labels: a named http rule or match is `"name"`, else `#index`. */
const label = (name: unknown, i: number): string => (typeof name === 'string' && name !== '' ? JSON.stringify(name) : `#${i}`);

function unreachable(vs: ConfigResource, section: 'http' | 'tcp' | 'tls', rules: readonly Rule[] | undefined, out: AnalysisMessage[]): void {
  const seen = new Map<string, number>();
  let matchAll = -1;
  (rules ?? []).forEach((rule, n) => {
    if (!rule) return;
    const field = `spec.${section}[${n}]`;
    const ruleName = label(section === 'http' ? rule.name : undefined, n);
    const unused = (reason: string) => out.push(analysisMessage(vs, 'IST0130', `VirtualService rule ${ruleName} not used (${reason}).`, field));
    const matches = rule.match ?? [];
    if (matches.length === 0) {
      if (matchAll >= 0) unused('only the last rule can have no matches');
      matchAll = n;
      return;
    }
    let duplicates = 0;
    matches.forEach((m, k) => {
      if (matchAll >= 0) {
        unused('route without matches defined before');
        return;
      }
      const key = canonical(section === 'http' ? { ...m, name: undefined } : m);
      const dup = seen.get(key);
      if (dup !== undefined) {
        const dupName = label(section === 'http' ? rules![dup].name : undefined, dup);
        out.push(analysisMessage(vs, 'IST0131',
          `VirtualService rule ${ruleName} match ${label(section === 'http' ? m.name : undefined, k)} is not used (duplicate/overlapping match in rule ${dupName}).`,
          `${field}.match[${k}]`));
        duplicates++;
        return;
      }
      seen.set(key, n);
    });
    if (duplicates === matches.length) unused('all matches used by prior rules');
  });
}

export function virtualServiceRules(resources: readonly ConfigResource[]): AnalysisMessage[] {
  const out: AnalysisMessage[] = [];
  for (const vs of resources) {
    if (vs.kind !== 'VirtualService') continue;
    const spec = vs.spec as VirtualServiceSpec;
    unreachable(vs, 'http', spec.http as Rule[] | undefined, out);
    unreachable(vs, 'tcp', spec.tcp as Rule[] | undefined, out);
    unreachable(vs, 'tls', spec.tls as unknown as Rule[] | undefined, out);
  }
  return out;
}

/** FQDN -> the service's port numbers, from Kubernetes Services and ServiceEntries. */
function servicePorts(resources: readonly ConfigResource[]): Map<string, number[]> {
  const ports = new Map<string, number[]>();
  for (const r of resources) {
    const ns = r.metadata.namespace ?? 'default';
    if (r.kind === 'Service') {
      ports.set(resolveHost(r.metadata.name, ns), ((r.spec as KubeServiceSpec).ports ?? []).map((p) => p.port));
    } else if (r.kind === 'ServiceEntry') {
      const spec = r.spec as ServiceEntrySpec;
      for (const h of spec.hosts ?? []) ports.set(resolveHost(h, ns), (spec.ports ?? []).map((p) => p.number));
    }
  }
  return ports;
}

export function destinationPortRequired(resources: readonly ConfigResource[]): AnalysisMessage[] {
  const ports = servicePorts(resources);
  const out: AnalysisMessage[] = [];
  for (const vs of resources) {
    if (vs.kind !== 'VirtualService') continue;
    const spec = vs.spec as VirtualServiceSpec;
    for (const section of ['http', 'tcp', 'tls'] as const) {
      (spec[section] ?? []).forEach((rule, i) => {
        (rule.route ?? []).forEach((rd, j) => {
          const d = rd.destination;
          if (!d?.host || d.port?.number) return;
          const p = ports.get(resolveHost(d.host, vs.metadata.namespace ?? 'default'));
          if (!p || p.length <= 1) return;
          out.push(analysisMessage(vs, 'IST0112',
            `This VirtualService routes to a service ${JSON.stringify(d.host)} that exposes multiple ports [${p.join(' ')}]. Specifying a port in the destination is required to disambiguate.`,
            `spec.${section}[${i}].route[${j}].destination`));
        });
      });
    }
  }
  return out;
}
