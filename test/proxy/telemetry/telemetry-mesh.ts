/**
 * Telemetry-shaped xDS (per the telemetry contract: istio.stats TypedStruct, HCM tracing with a
 * collector cluster, file access logs) and small meshes of real in-process sidecars built on it:
 * each sidecar is a startProxy() fed by its own StaticXds, bound on 127.0.0.1 with ephemeral
 * ports. Used by the proxy telemetry tests and the e2e telemetry tests.
 */
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { jsonToStruct } from '../../../src/xds/struct.js';
import {
  FILE_ACCESS_LOG_TYPE,
  ISTIO_STATS_TYPE,
  OPENTELEMETRY_CONFIG_TYPE,
  TYPED_STRUCT_TYPE,
  ZIPKIN_CONFIG_TYPE,
} from '../../../src/xds/type-urls.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { boundHttpListener, route, routeConfig, routerFilter, socketAddress, staticCluster, tcpProxy, vhost } from '../helpers/resources.js';

export function statsFilter(value: Record<string, unknown> = {}): EnvoyResource {
  return { name: 'istio.stats', typed_config: { '@type': TYPED_STRUCT_TYPE, type_url: ISTIO_STATS_TYPE, value: jsonToStruct(value) } };
}

export function zipkinTracing(cluster: string, samplingPercent?: number): EnvoyResource {
  return {
    ...(samplingPercent === undefined ? {} : { random_sampling: { value: samplingPercent } }),
    provider: {
      name: 'envoy.tracers.zipkin',
      typed_config: {
        '@type': ZIPKIN_CONFIG_TYPE,
        collector_cluster: cluster,
        collector_endpoint: '/api/v2/spans',
        collector_endpoint_version: 'HTTP_JSON',
        trace_id_128bit: true,
        shared_span_context: { value: false },
      },
    },
  };
}

export function otlpTracing(cluster: string, uri: string, samplingPercent?: number): EnvoyResource {
  return {
    ...(samplingPercent === undefined ? {} : { random_sampling: { value: samplingPercent } }),
    provider: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: { '@type': OPENTELEMETRY_CONFIG_TYPE, http_service: { http_uri: { uri, cluster, timeout: { seconds: 5 } } } },
    },
  };
}

export function fileAccessLog(path: string, format: { text: string } | { json: Record<string, string> }): EnvoyResource {
  const logFormat = 'text' in format ? { text_format_source: { inline_string: format.text } } : { json_format: jsonToStruct(format.json) };
  return { name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path, log_format: logFormat } };
}

/** What one listener of a test sidecar carries (the contract's shape; absent = off). */
export interface ListenerTelemetry {
  stats?: boolean | Record<string, unknown>;
  tracing?: EnvoyResource;
  accessLog?: EnvoyResource[];
}

function httpFilters(t: ListenerTelemetry): EnvoyResource[] {
  return t.stats ? [statsFilter(t.stats === true ? {} : t.stats), routerFilter] : [routerFilter];
}

function hcmExtra(t: ListenerTelemetry): EnvoyResource {
  const out: EnvoyResource = {};
  if (t.tracing) out.tracing = t.tracing;
  if (t.accessLog) out.access_log = t.accessLog;
  return out;
}

export interface SidecarSpec {
  /** NAME.NAMESPACE of the workload */
  id: string;
  labels: Record<string, string>;
  /** inbound: a bound `127.0.0.1_<port>` INBOUND listener to the app (inbound|<port>||) */
  inbound?: { port: number; appPort: number; telemetry?: ListenerTelemetry; tcp?: boolean };
  /** outbound: a bound OUTBOUND listener per service, to `outbound|<port>||<host>` */
  outbound?: Array<{ name: string; host: string; port: number; target: number; telemetry?: ListenerTelemetry; tcp?: boolean }>;
  /** extra clusters (span collectors) */
  clusters?: EnvoyResource[];
  /** decorate the inbound cluster with Istio's service metadata */
  inboundService?: string;
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export function outboundClusterName(host: string, port: number): string {
  return `outbound|${port}||${host}`;
}

/** A collector cluster the way the control plane names it (STATIC, to 127.0.0.1:port). */
export function collectorCluster(host: string, port: number, receiverPort: number): EnvoyResource {
  return staticCluster(outboundClusterName(host, port), [['127.0.0.1', receiverPort]]);
}

function listenerWithHcm(name: string, direction: 'INBOUND' | 'OUTBOUND', routeName: string, t: ListenerTelemetry): EnvoyResource {
  const l = boundHttpListener(name, '127.0.0.1', 0, routeName, httpFilters(t), hcmExtra(t));
  return { ...l, traffic_direction: direction };
}

function listenerWithTcp(name: string, direction: 'INBOUND' | 'OUTBOUND', cluster: string, t: ListenerTelemetry): EnvoyResource {
  const proxy = tcpProxy(cluster);
  if (t.accessLog) proxy.typed_config.access_log = t.accessLog;
  const filters = t.stats ? [statsFilter(t.stats === true ? {} : t.stats), proxy] : [proxy];
  return { name, address: socketAddress('127.0.0.1', 0), traffic_direction: direction, filter_chains: [{ filters }] };
}

export function sidecarResources(spec: SidecarSpec): { clusters: EnvoyResource[]; listeners: EnvoyResource[]; routes: EnvoyResource[] } {
  const clusters: EnvoyResource[] = [...(spec.clusters ?? [])];
  const listeners: EnvoyResource[] = [];
  const routes: EnvoyResource[] = [];
  const inb = spec.inbound;
  if (inb) {
    const name = inboundClusterName(inb.port);
    const extra = spec.inboundService
      ? { metadata: { filter_metadata: { istio: jsonToStruct({ services: [{ host: spec.inboundService }] }) } } }
      : {};
    clusters.push(staticCluster(name, [['127.0.0.1', inb.appPort]], extra));
    const lname = `127.0.0.1_${inb.port}`;
    if (inb.tcp) listeners.push(listenerWithTcp(lname, 'INBOUND', name, inb.telemetry ?? {}));
    else {
      listeners.push(listenerWithHcm(lname, 'INBOUND', name, inb.telemetry ?? {}));
      routes.push(
        routeConfig(name, [
          vhost(`inbound|http|${inb.port}`, ['*'], [route({ prefix: '/' }, name, { timeout: { seconds: 0 } }, { name: 'default', decorator: { operation: `${name}/*` } })]),
        ]),
      );
    }
  }
  for (const o of spec.outbound ?? []) {
    const cname = outboundClusterName(o.host, o.port);
    clusters.push(staticCluster(cname, [['127.0.0.1', o.target]]));
    if (o.tcp) listeners.push(listenerWithTcp(o.name, 'OUTBOUND', cname, o.telemetry ?? {}));
    else {
      listeners.push(listenerWithHcm(o.name, 'OUTBOUND', o.name, o.telemetry ?? {}));
      const short = o.host.split('.')[0];
      routes.push(
        routeConfig(o.name, [
          vhost(`${o.host}:${o.port}`, [short, `${short}:${o.port}`, o.host, `${o.host}:${o.port}`, '*'], [
            route({ prefix: '/' }, cname, { timeout: { seconds: 0 } }, { name: 'default', decorator: { operation: `${o.host}:${o.port}/*` } }),
          ]),
        ]),
      );
    }
  }
  return { clusters, listeners, routes };
}

/** Starts one sidecar; its listener ports come from `listenerPort(name)`. */
export async function startSidecar(spec: SidecarSpec): Promise<Harness> {
  return startHarness(sidecarResources(spec), { id: spec.id, labels: spec.labels, serviceAccount: spec.id.split('.')[0].replace(/-v\d+$/, '') });
}

export function portOf(h: Harness, listener: string): number {
  const p = h.proxy.listenerPort(listener);
  if (!p) throw new Error(`listener ${listener} not bound`);
  return p;
}
