/**
 * Cross-resource analysis over a whole set of resources (istioctl analyze's role): duplicate
 * definitions, conflicting VirtualService hosts, references to missing subsets, gateways and
 * (when the caller knows the registry) hosts. All findings are warnings: the referenced object
 * may simply not be applied yet.
 */
import { joinIndex, joinKey } from './field-path.js';
import { Codes, type ValidationMessage } from './messages.js';
import { resourceKey } from './resource-yaml.js';
import { asList, asObj, asObjList, asStr, type Obj } from './semantic-util.js';
import type { ConfigResource } from './types.js';
import { Reporter } from './validate-reporter.js';
import { hostMatches, resolveHost } from './value-host.js';
import type { MeshConfig } from './mesh-config.js';
import { KINDS } from './kinds.js';

export interface CrossOptions {
  /** FQDNs the registry knows (`reviews.default.svc.cluster.local`); enables unknown-host checks. */
  knownHosts?: Set<string>;
  /** the mesh config in force; enables the check that Telemetry providers exist */
  meshConfig?: MeshConfig;
}

interface DestinationRef {
  host: string;
  subset?: string;
  path: string;
}

/** Every destination a VirtualService routes or mirrors to, with its field path. */
function destinations(spec: Obj): DestinationRef[] {
  const out: DestinationRef[] = [];
  const add = (d: unknown, path: string) => {
    const o = asObj(d);
    const host = asStr(o.host);
    if (host !== undefined) out.push({ host, subset: asStr(o.subset), path });
  };
  for (const section of ['http', 'tcp', 'tls'] as const) {
    asObjList(spec[section]).forEach((route, i) => {
      const p = joinIndex(`spec.${section}`, i);
      asObjList(route.route).forEach((rd, j) => add(rd.destination, joinKey(joinIndex(joinKey(p, 'route'), j), 'destination')));
      if (route.mirror) add(route.mirror, joinKey(p, 'mirror'));
      asObjList(route.mirrors).forEach((m, j) => add(m.destination, joinKey(joinIndex(joinKey(p, 'mirrors'), j), 'destination')));
    });
  }
  return out;
}

export function validateResources(all: ConfigResource[], opts: CrossOptions = {}): ValidationMessage[] {
  const messages: ValidationMessage[] = [];
  const reporterFor = (r: ConfigResource) => {
    const rep = new Reporter(r);
    return { rep, flush: () => messages.push(...rep.messages) };
  };
  const ofKind = (kind: string) => resources.filter((r) => r.kind === kind);
  const specOf = (r: ConfigResource) => asObj(r.spec);

  // Same Kind/namespace/name twice: the later one replaces the earlier one.
  const seen = new Map<string, ConfigResource>();
  for (const r of all) {
    const key = resourceKey(r);
    const prev = seen.get(key);
    if (prev) {
      const { rep, flush } = reporterFor(r);
      const where = prev.source ? ` at ${prev.source.file}:${prev.source.line}` : '';
      rep.warn('', `also defined${where}; the later definition replaces it`, Codes.duplicateResource);
      flush();
    }
    seen.set(key, r);
  }
  // The rest looks only at the definitions that win.
  const resources = [...seen.values()];

  const virtualServices = ofKind('VirtualService');
  const gateways = ofKind('Gateway');
  const rules = ofKind('DestinationRule').map((r) => ({
    host: resolveHost(asStr(specOf(r).host) ?? '', r.metadata.namespace),
    subsets: new Set(asObjList(specOf(r).subsets).map((s) => asStr(s.name))),
  }));

  // Hosts bound to the same gateway (or the mesh) by two VirtualServices: Istio merges them
  // unpredictably (IST0109). Indexed by scope|host and by host, so the check stays linear even
  // when thousands of VirtualServices share a host (a gateway's "*").
  const owners = new Map<string, Set<ConfigResource>>();
  const keysByHost = new Map<string, Set<string>>();
  for (const vs of virtualServices) {
    const spec = specOf(vs);
    const gws = asList(spec.gateways).filter((g): g is string => typeof g === 'string');
    const scopes = gws.length === 0 ? ['mesh'] : gws.map((g) => (g === 'mesh' || g.includes('/') ? g : `${vs.metadata.namespace}/${g}`));
    for (const h of asList(spec.hosts)) {
      if (typeof h !== 'string') continue;
      const fqdn = resolveHost(h, vs.metadata.namespace);
      for (const scope of new Set(scopes)) {
        const key = `${scope}|${fqdn}`;
        let set = owners.get(key);
        if (!set) owners.set(key, (set = new Set()));
        set.add(vs);
        let keys = keysByHost.get(fqdn);
        if (!keys) keysByHost.set(fqdn, (keys = new Set()));
        keys.add(key);
      }
    }
  }
  const MAX_NAMED = 5;
  for (const vs of virtualServices) {
    const { rep, flush } = reporterFor(vs);
    const spec = specOf(vs);
    const gws = asList(spec.gateways).filter((g): g is string => typeof g === 'string');
    asList(spec.hosts).forEach((h, i) => {
      if (typeof h !== 'string') return;
      const fqdn = resolveHost(h, vs.metadata.namespace);
      const others = new Set<ConfigResource>();
      for (const key of keysByHost.get(fqdn) ?? []) {
        const set = owners.get(key)!;
        if (!set.has(vs)) continue;
        for (const o of set) {
          if (o !== vs) others.add(o);
          if (others.size > MAX_NAMED) break;
        }
        if (others.size > MAX_NAMED) break;
      }
      if (others.size > 0) {
        let total = others.size;
        for (const key of keysByHost.get(fqdn) ?? []) {
          const set = owners.get(key)!;
          if (set.has(vs)) total = Math.max(total, set.size - 1);
        }
        const names = [...others].slice(0, MAX_NAMED).map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort();
        const more = total > names.length ? ` and ${total - names.length} more` : '';
        rep.warn(
          joinIndex('spec.hosts', i),
          `host "${fqdn}" is also defined by VirtualService ${names.join(', ')}${more}; merge them into one VirtualService`,
          Codes.conflictingVirtualServiceHosts,
        );
      }
    });

    gws.forEach((g, i) => {
      if (g === 'mesh') return;
      const [ns, name] = g.includes('/') ? g.split('/', 2) : [vs.metadata.namespace, g];
      if (!gateways.some((gw) => gw.metadata.name === name && gw.metadata.namespace === ns)) {
        rep.warn(joinIndex('spec.gateways', i), `referenced gateway "${ns}/${name}" not found`, Codes.referenceNotFound);
      }
    });

    for (const d of destinations(spec)) {
      const fqdn = resolveHost(d.host, vs.metadata.namespace);
      if (d.subset !== undefined) {
        const matching = rules.filter((r) => r.host !== '' && hostMatches(r.host, fqdn));
        if (!matching.some((r) => r.subsets.has(d.subset))) {
          rep.warn(joinKey(d.path, 'subset'), `referenced subset "${d.subset}" not found in any DestinationRule for host "${fqdn}"`, Codes.referenceNotFound);
        }
      }
      if (opts.knownHosts && !isKnown(fqdn, opts.knownHosts, resources)) {
        rep.warn(joinKey(d.path, 'host'), `referenced host "${fqdn}" not found`, Codes.referenceNotFound);
      }
    }
    flush();
  }

  // per-kind checks declared in the kinds table
  for (const def of KINDS) {
    def.cross?.(ofKind(def.kind), { all: resources, reporterFor, opts });
  }

  if (opts.knownHosts) {
    for (const dr of ofKind('DestinationRule')) {
      const host = asStr(specOf(dr).host);
      if (host === undefined || host.startsWith('*')) continue;
      const fqdn = resolveHost(host, dr.metadata.namespace);
      if (!isKnown(fqdn, opts.knownHosts, resources)) {
        const { rep, flush } = reporterFor(dr);
        rep.warn('spec.host', `host "${fqdn}" does not match any known service`, Codes.unknownDestinationRuleHost);
        flush();
      }
    }
  }
  return messages;
}

/** Registry hosts plus the Services and ServiceEntries in the set itself. */
function isKnown(fqdn: string, known: Set<string>, resources: ConfigResource[]): boolean {
  if (known.has(fqdn)) return true;
  for (const k of known) if (hostMatches(k, fqdn)) return true;
  for (const r of resources) {
    if (r.kind === 'Service' && `${r.metadata.name}.${r.metadata.namespace}.svc.cluster.local` === fqdn) return true;
    if (r.kind === 'ServiceEntry') {
      for (const h of asList(asObj(r.spec).hosts)) {
        if (typeof h === 'string' && hostMatches(resolveHost(h, r.metadata.namespace), fqdn)) return true;
      }
    }
  }
  return false;
}
