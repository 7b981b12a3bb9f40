/**
 * Thin per-type generators: the bridge between the generic ADS server (which knows nothing of
 * Istio) and the pure builders. Output is cached per push context and proxy "shape", so proxies
 * that would get identical resources share one computation (and one encoding downstream).
 */
import type { EnvoyResource } from '../xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, NAME_TABLE_TYPE, ROUTE_TYPE, SECRET_TYPE } from '../xds/type-urls.js';
import { parseNode, type ProxyIdentity } from '../xds/node-metadata.js';
import type { XdsResourceSource, XdsStreamInfo } from '../xds-server/index.js';
import {
  buildClusters,
  buildEndpoints,
  buildListeners,
  buildNameTable,
  buildRoutes,
  type PushContext,
} from './builders/index.js';
import { buildSecrets } from './builders/build-secrets.js';

/**
 * What a stream is served as, given its node: the control plane narrows clients without a
 * credential to a proxyless client's view (see control-plane-security.ts).
 */
export type StreamView = (stream: XdsStreamInfo, parsed: ProxyIdentity) => ProxyIdentity;

type Builder = (pc: PushContext, proxy: ProxyIdentity, names: string[] | undefined) => EnvoyResource[];

const BUILDERS: Record<string, Builder> = {
  [CLUSTER_TYPE]: (pc, p, names) => buildClusters(pc, p, names),
  [LISTENER_TYPE]: (pc, p, names) => buildListeners(pc, p, names),
  [ROUTE_TYPE]: (pc, p, names) => buildRoutes(pc, p, names ?? []),
  [ENDPOINT_TYPE]: (pc, p, names) => buildEndpoints(pc, p, names ?? []),
  [NAME_TABLE_TYPE]: (pc, p) => buildNameTable(pc, p),
};

/** The parts of a proxy's identity that a resource type depends on. */
function shapeKey(typeUrl: string, p: ProxyIdentity): string {
  switch (typeUrl) {
    case ENDPOINT_TYPE:
      // locality-aware load balancing makes endpoint priorities depend on where the proxy is
      return JSON.stringify(p.locality ?? {});
    case ROUTE_TYPE:
      return JSON.stringify([p.type, p.namespace, p.labels]);
    case NAME_TABLE_TYPE:
      // the same table for every proxy (names are expanded per namespace by the proxy)
      return '';
    default:
      return JSON.stringify([
        p.type, p.namespace, p.labels, p.interceptionMode, p.podPorts, p.appPorts,
        p.podPorts.length || p.type === 'router' ? p.address : '', p.anonymous === true,
      ]);
  }
}

export class XdsGenerator implements XdsResourceSource {
  private cache = new Map<string, Map<string, EnvoyResource>>();
  private identities = new WeakMap<object, ProxyIdentity>();

  constructor(
    private getPushContext: () => PushContext,
    private readonly view: StreamView = (_s, id) => id,
  ) {}

  /** Drops cached output; called whenever a new push context is installed. */
  invalidate(): void {
    this.cache.clear();
  }

  identity(stream: XdsStreamInfo): ProxyIdentity {
    const node = stream.node ?? { id: `unknown-${stream.id}` };
    let id = this.identities.get(node);
    if (!id) {
      id = this.view(stream, parseNode(node));
      this.identities.set(node, id);
    }
    return id;
  }

  resources(stream: XdsStreamInfo, typeUrl: string, names: string[] | undefined): Map<string, EnvoyResource> {
    if (typeUrl === SECRET_TYPE) {
      // named credentials: only of the namespace the stream's credential proves
      const caller = stream.caller as { namespace?: string } | undefined;
      return this.secrets(this.identity(stream).namespace, caller?.namespace, names ?? []);
    }
    return this.generate(typeUrl, this.identity(stream), names);
  }

  private secrets(proxyNamespace: string, allowed: string | undefined, names: string[]): Map<string, EnvoyResource> {
    const sorted = [...names].sort();
    const key = `${SECRET_TYPE}|${proxyNamespace}|${allowed ?? ''}|${sorted.join(',')}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out = new Map<string, EnvoyResource>();
    for (const r of buildSecrets(this.getPushContext(), proxyNamespace, allowed, sorted)) out.set(r.name as string, r);
    this.cache.set(key, out);
    return out;
  }

  generate(typeUrl: string, proxy: ProxyIdentity, names: string[] | undefined): Map<string, EnvoyResource> {
    const build = BUILDERS[typeUrl];
    if (!build) return new Map();
    const sortedNames = names ? [...names].sort() : undefined;
    const key = `${typeUrl}|${shapeKey(typeUrl, proxy)}|${sortedNames ? sortedNames.join(',') : '*'}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out = new Map<string, EnvoyResource>();
    for (const r of build(this.getPushContext(), proxy, sortedNames)) {
      const name = typeUrl === ENDPOINT_TYPE ? (r.cluster_name as string) : typeUrl === NAME_TABLE_TYPE ? '' : (r.name as string);
      out.set(name, r);
    }
    this.cache.set(key, out);
    return out;
  }
}
