/**
 * RDS: route configurations by name. `<port>` for sidecars (a virtual host per service on that
 * port plus the catch-all), `http.<port>` for gateways, `<fqdn>:<port>` for proxyless gRPC.
 */
import type { GatewayServer } from '../../config/types.js';
import { httpsRouteName, terminatesTls } from './build-gateway-tls.js';
import type { EnvoyResource } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { MeshService } from '../../registry/types.js';
import { hostsIntersect } from '../../registry/registry-hosts.js';
import { isHttpProtocol } from '../../registry/registry-protocol.js';
import type { PushContext } from '../push-context.js';
import { findPort, outboundTrafficMode, PASSTHROUGH_CLUSTER } from './build-common.js';
import { buildDefaultRoute, buildVirtualServiceRoutes } from './build-http-routes.js';
import { applyEnvoyFilterRoutes } from './build-envoy-filter.js';

/** Domains of a service's virtual host; short names only for the proxy's own namespace, as in Istio. */
export function serviceDomains(svc: MeshService, port: number, proxyNamespace: string): string[] {
  const names: string[] = [svc.hostname];
  if (svc.origin === 'Service') {
    names.push(`${svc.name}.${svc.namespace}`);
    if (svc.namespace === proxyNamespace) names.push(svc.name);
  }
  for (const a of svc.addresses) if (!a.includes('/')) names.push(a);
  return names.flatMap((n) => [n, `${n}:${port}`]);
}

function catchAll(pc: PushContext, proxy: ProxyIdentity): EnvoyResource {
  if (outboundTrafficMode(pc, proxy) === 'REGISTRY_ONLY') {
    return {
      name: 'block_all', domains: ['*'],
      routes: [{ name: 'block_all', match: { prefix: '/' }, direct_response: { status: 502 } }],
    };
  }
  return {
    name: 'allow_any', domains: ['*'],
    routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: { seconds: 0 } } }],
  };
}

function serviceRoutes(pc: PushContext, proxy: ProxyIdentity, svc: MeshService, port: number, proxyless: boolean): EnvoyResource[] {
  const scope = { pc, proxy, port, proxyless };
  const vs = pc.virtualServicesForHost(svc.hostname, proxy).find((v) => (v.resource.spec.http ?? []).length > 0);
  if (vs) return buildVirtualServiceRoutes(vs, scope);
  return [buildDefaultRoute(svc.hostname, port, scope)];
}

function sidecarRouteConfig(pc: PushContext, proxy: ProxyIdentity, port: number): EnvoyResource {
  const used = new Set<string>();
  const vhosts: EnvoyResource[] = [];
  const scope = pc.sidecarScope(proxy);
  const services = [...scope.services].sort((a, b) => (a.hostname < b.hostname ? -1 : 1));
  for (const svc of services) {
    const sp = findPort(svc, port);
    // sniffed ports (protocol not declared) carry HTTP too when the first bytes say so
    if (!sp || !(isHttpProtocol(sp.protocol) || sp.sniffed)) continue;
    // Envoy rejects a domain listed twice in one route configuration.
    const domains = serviceDomains(svc, port, proxy.namespace).filter((d) => !used.has(d));
    if (domains.length === 0) continue;
    for (const d of domains) used.add(d);
    vhosts.push({ name: `${svc.hostname}:${port}`, domains, routes: serviceRoutes(pc, proxy, svc, port, false) });
  }
  // Istio gives VirtualService hosts that match no service a virtual host on port 80 only.
  if (port === 80) {
    for (const v of pc.virtualServices) {
      if (!v.gateways.includes('mesh') || (v.resource.spec.http ?? []).length === 0) continue;
      if (!pc.virtualServiceVisible(v.resource, proxy.namespace) || !scope.importsVirtualService(v)) continue;
      for (const host of v.hosts) {
        if (host === '*' || pc.service(host)) continue;
        const domains = [host, `${host}:80`].filter((d) => !used.has(d));
        if (domains.length === 0) continue;
        for (const d of domains) used.add(d);
        vhosts.push({ name: `${host}:80`, domains, routes: buildVirtualServiceRoutes(v, { pc, proxy, port, proxyless: false }) });
      }
    }
  }
  vhosts.push(catchAll(pc, proxy));
  return { name: String(port), virtual_hosts: vhosts, validate_clusters: { value: false } };
}

/** `ns/host` server host → host and the namespaces whose VirtualServices it admits. */
function serverHost(h: string, gatewayNs: string): { host: string; ns?: string } {
  const slash = h.indexOf('/');
  if (slash < 0) return { host: h };
  const ns = h.slice(0, slash);
  return { host: h.slice(slash + 1), ns: ns === '*' ? undefined : ns === '.' ? gatewayNs : ns };
}

const GATEWAY_HTTP = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export function isGatewayHttpServer(s: GatewayServer): boolean {
  return GATEWAY_HTTP.has(s.port.protocol.toUpperCase());
}

/**
 * A gateway's routes on a port: `http.<port>` for its plaintext HTTP servers, or one HTTPS
 * server's own (`https.<port>.<portName>.<gateway>.<namespace>`, build-gateway-tls.ts).
 */
function gatewayRouteConfig(pc: PushContext, proxy: ProxyIdentity, port: number, name: string): EnvoyResource {
  const vhosts = new Map<string, EnvoyResource>();
  const https = name.startsWith('https.');
  for (const gw of pc.gatewaysForProxy(proxy)) {
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    for (const server of gw.spec.servers ?? []) {
      if (server.port.number !== port) continue;
      if (https ? !(terminatesTls(server) && httpsRouteName(server, gw.metadata.name, gw.metadata.namespace) === name) : !isGatewayHttpServer(server)) continue;
      const hosts = server.hosts.map((h) => serverHost(h, gw.metadata.namespace));
      for (const vs of pc.virtualServicesForGateway(key, proxy)) {
        const vsNs = vs.resource.metadata.namespace;
        for (const host of vs.hosts) {
          if (!hosts.some((sh) => (!sh.ns || sh.ns === vsNs) && hostsIntersect(sh.host, host))) continue;
          const vhName = `${host}:${port}`;
          let vh = vhosts.get(vhName);
          if (!vh) {
            vh = { name: vhName, domains: host === '*' ? ['*'] : [host, `${host}:${port}`], routes: [] };
            if (server.tls?.httpsRedirect) vh.require_tls = 'ALL';
            vhosts.set(vhName, vh);
          }
          vh.routes.push(...buildVirtualServiceRoutes(vs, { pc, proxy, port, proxyless: false, gateway: key }));
        }
      }
    }
  }
  return { name, virtual_hosts: [...vhosts.values()], validate_clusters: { value: false } };
}

/** `<host>:<port>` as a proxyless gRPC client names it; the host may be short (`reviews.default`). */
export function parseHostPortName(pc: PushContext, proxy: ProxyIdentity, name: string): { svc: MeshService; port: number } | undefined {
  const m = /^([A-Za-z0-9*][A-Za-z0-9.*-]*):(\d+)$/.exec(name);
  if (!m) return undefined;
  const port = Number(m[2]);
  const svc = pc.sidecarScope(proxy).service(pc.resolveHost(m[1], proxy.namespace));
  if (!svc || !findPort(svc, port)) return undefined;
  return { svc, port };
}

function proxylessRouteConfig(pc: PushContext, proxy: ProxyIdentity, name: string): EnvoyResource | undefined {
  const target = parseHostPortName(pc, proxy, name);
  if (!target) return undefined;
  return {
    name,
    virtual_hosts: [{ name, domains: [name], routes: serviceRoutes(pc, proxy, target.svc, target.port, true) }],
  };
}

export function buildRoutes(pc: PushContext, proxy: ProxyIdentity, names: string[]): EnvoyResource[] {
  return applyEnvoyFilterRoutes(pc, proxy, builtRoutes(pc, proxy, names));
}

function builtRoutes(pc: PushContext, proxy: ProxyIdentity, names: string[]): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  for (const name of names) {
    if (/^\d+$/.test(name)) {
      out.push(sidecarRouteConfig(pc, proxy, Number(name)));
    } else if (/^http\.\d+$/.test(name)) {
      out.push(gatewayRouteConfig(pc, proxy, Number(name.slice(5)), name));
    } else if (/^https\.\d+\./.test(name)) {
      out.push(gatewayRouteConfig(pc, proxy, Number(name.split('.')[1]), name));
    } else {
      const rc = proxylessRouteConfig(pc, proxy, name);
      if (rc) out.push(rc);
    }
  }
  return out;
}
