/**
 * The telemetry in force for one proxy and listener class, Istio's way (pilot's Telemetries):
 * the root namespace's selector-less Telemetry, then the proxy namespace's, then the first one
 * selecting the workload; later ones override earlier ones. Without any Telemetry (and no
 * defaultProviders) the mesh config's legacy settings apply: accessLogFile, enableTracing with
 * defaultConfig.tracing.zipkin. Metrics are in build-telemetry-metrics.ts.
 */
import type { Telemetry, TelemetryAccessLogging, WorkloadMode } from '../../config/types.js';
import {
  DEFAULT_TRACE_SAMPLING, DEFAULT_ZIPKIN_ADDRESS, findExtensionProvider, type ExtensionProvider, type MeshConfig,
} from '../../config/mesh-config.js';
import { parseGoDuration } from '../../xds/codec.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { labelsMatch } from '../../registry/registry-labels.js';
import { ROOT_NAMESPACE, type PushContext } from '../push-context.js';
import { outboundClusterName, splitHostPort } from './build-common.js';
import { ISTIO_DEFAULT_FORMAT as ISTIO_DEFAULT_TEXT_FORMAT, ISTIO_DEFAULT_JSON_FORMAT } from '../../xds/access-log-defaults.js';

/** Istio's listener classes: sidecar inbound (SERVER), sidecar outbound and gateway (CLIENT). */
export type ListenerClass = 'inbound' | 'outbound' | 'gateway';

export function workloadMode(cls: ListenerClass): 'CLIENT' | 'SERVER' {
  return cls === 'inbound' ? 'SERVER' : 'CLIENT';
}

export function modeApplies(mode: WorkloadMode | undefined, cls: ListenerClass): boolean {
  return !mode || mode === 'CLIENT_AND_SERVER' || mode === workloadMode(cls);
}

/** Gateway API gateways carry this label; a Telemetry targetRef to a Gateway selects them. */
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

function isNamespaceWide(t: Telemetry): boolean {
  return Object.keys(t.spec?.selector?.matchLabels ?? {}).length === 0 && !t.spec?.targetRef && !t.spec?.targetRefs?.length;
}

function selectsWorkload(t: Telemetry, proxy: ProxyIdentity): boolean {
  const labels = t.spec?.selector?.matchLabels ?? {};
  if (Object.keys(labels).length > 0) return labelsMatch(labels, proxy.labels);
  const refs = [...(t.spec?.targetRef ? [t.spec.targetRef] : []), ...(t.spec?.targetRefs ?? [])];
  return refs.some((r) => r.kind === 'Gateway' && (r.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io'
    && proxy.labels[GATEWAY_NAME_LABEL] === r.name);
}

/** Root namespace, namespace and workload Telemetry for the proxy, least specific first. */
export function applicableTelemetries(pc: PushContext, proxy: ProxyIdentity): Telemetry[] {
  const out: Telemetry[] = [];
  const root = pc.telemetries.find((t) => t.metadata.namespace === ROOT_NAMESPACE && isNamespaceWide(t));
  if (root) out.push(root);
  if (proxy.namespace !== ROOT_NAMESPACE) {
    const ns = pc.telemetries.find((t) => t.metadata.namespace === proxy.namespace && isNamespaceWide(t));
    if (ns) out.push(ns);
  }
  const workload = pc.telemetries.find((t) => t.metadata.namespace === proxy.namespace && !isNamespaceWide(t) && selectsWorkload(t, proxy));
  if (workload) out.push(workload);
  return out;
}

// ------------------------------------------------------------------ collectors
/** Where a provider's spans go: a CDS cluster (registry service, or one Clew adds) and its URL parts. */
export interface Collector {
  cluster: string;
  host: string;
  port: number;
  /** the cluster is an outbound service cluster already; otherwise build-telemetry-clusters adds it */
  inRegistry: boolean;
}

/** `zipkin.istio-system.svc.cluster.local`, `istio-system/zipkin...` or an IP, plus its port. */
export function resolveCollector(pc: PushContext, service: string, port: number): Collector {
  const slash = service.indexOf('/');
  const namespace = slash < 0 ? ROOT_NAMESPACE : service.slice(0, slash);
  const host = slash < 0 ? service : service.slice(slash + 1);
  const fqdn = pc.resolveHost(host, namespace);
  const svc = pc.service(fqdn);
  if (svc && svc.ports.some((p) => p.port === port)) {
    return { cluster: outboundClusterName(port, undefined, fqdn), host: fqdn, port, inRegistry: true };
  }
  return { cluster: outboundClusterName(port, undefined, host), host, port, inRegistry: false };
}

// ------------------------------------------------------------------ tracing
export interface TracingPolicy {
  kind: 'zipkin' | 'opentelemetry';
  collector: Collector;
  /** zipkin: collector path; opentelemetry: OTLP/HTTP path */
  path: string;
  timeoutMs?: number;
  samplingPercent: number;
  maxPathTagLength?: number;
  trace64bit?: boolean;
  customTags?: Record<string, { literal?: { value: string }; environment?: { name: string; defaultValue?: string }; header?: { name: string; defaultValue?: string } }>;
}

function meshSampling(mesh: MeshConfig): number {
  return mesh.defaultConfig?.tracing?.sampling ?? DEFAULT_TRACE_SAMPLING;
}

function tracingFromProvider(pc: PushContext, p: ExtensionProvider, sampling: number): TracingPolicy | undefined {
  if (p.zipkin) {
    return {
      kind: 'zipkin',
      collector: resolveCollector(pc, p.zipkin.service, p.zipkin.port),
      path: p.zipkin.path || '/api/v2/spans',
      samplingPercent: sampling,
      maxPathTagLength: p.zipkin.maxTagLength || undefined,
      trace64bit: p.zipkin.enable64bitTraceId || undefined,
    };
  }
  if (p.opentelemetry?.http) {
    const timeout = p.opentelemetry.http.timeout;
    return {
      kind: 'opentelemetry',
      collector: resolveCollector(pc, p.opentelemetry.service, p.opentelemetry.port),
      path: p.opentelemetry.http.path || '/v1/traces',
      timeoutMs: timeout ? Math.round((parseGoDuration(timeout) ?? 5e9) / 1e6) : 5000,
      samplingPercent: sampling,
      maxPathTagLength: p.opentelemetry.maxTagLength || undefined,
    };
  }
  return undefined; // other tracers (and OTLP/gRPC) are not exported by Clew's proxy
}

/** Legacy tracing: enableTracing + defaultConfig.tracing.zipkin, when that collector resolves. */
function legacyTracing(pc: PushContext): TracingPolicy | undefined {
  const mesh = pc.meshConfig;
  const address = mesh.defaultConfig?.tracing?.zipkin?.address;
  if (!mesh.enableTracing || !address) return undefined;
  const hp = splitHostPort(address);
  if (!hp) return undefined;
  const collector = resolveCollector(pc, hp.host, hp.port);
  // Istio's built-in default points at an addon that may not be installed: only trace to it if
  // it exists; an address the mesh config names explicitly is always used.
  if (!collector.inRegistry && address === DEFAULT_ZIPKIN_ADDRESS) return undefined;
  return {
    kind: 'zipkin',
    collector,
    path: '/api/v2/spans',
    samplingPercent: meshSampling(mesh),
    maxPathTagLength: mesh.defaultConfig?.tracing?.maxPathTagLength || undefined,
  };
}

/** Istio's Telemetries.Tracing for one class: undefined means no tracing on that listener. */
export function tracingPolicy(pc: PushContext, telemetries: readonly Telemetry[], cls: ListenerClass): TracingPolicy | undefined {
  const mesh = pc.meshConfig;
  const entries = telemetries.flatMap((t) => t.spec?.tracing ?? []);
  const defaults = mesh.defaultProviders?.tracing ?? [];
  if (entries.length === 0 && defaults.length === 0) return legacyTracing(pc);

  let provider = defaults.length ? findExtensionProvider(mesh, defaults[0]) : undefined;
  let disabled = false;
  let sampling: number | undefined;
  let customTags: TracingPolicy['customTags'];
  for (const t of entries) {
    if (!modeApplies(t.match?.mode, cls)) continue;
    if (t.providers?.length) provider = findExtensionProvider(mesh, t.providers[0].name);
    if (t.disableSpanReporting !== undefined) disabled = t.disableSpanReporting;
    if (t.customTags) customTags = t.customTags;
    if (t.randomSamplingPercentage !== undefined) sampling = t.randomSamplingPercentage;
  }
  if (!provider || disabled) return undefined;
  const policy = tracingFromProvider(pc, provider, sampling ?? meshSampling(mesh));
  if (policy && customTags) policy.customTags = customTags;
  return policy;
}

// ------------------------------------------------------------------ access logging
export interface AccessLogPolicy {
  path: string;
  /** text format string, or JSON key -> format */
  format: { text: string } | { json: Record<string, unknown> };
  /** Telemetry accessLogging filter.expression: a CEL expression; only requests it is true for are logged */
  filter?: string;
}

export { ISTIO_DEFAULT_FORMAT as ISTIO_DEFAULT_TEXT_FORMAT, ISTIO_DEFAULT_JSON_FORMAT } from '../../xds/access-log-defaults.js';

function legacyAccessLog(mesh: MeshConfig): AccessLogPolicy[] {
  if (!mesh.accessLogFile) return [];
  if (mesh.accessLogEncoding === 'JSON') {
    const json = mesh.accessLogFormat ? (JSON.parse(mesh.accessLogFormat) as Record<string, unknown>) : { ...ISTIO_DEFAULT_JSON_FORMAT };
    return [{ path: mesh.accessLogFile, format: { json } }];
  }
  return [{ path: mesh.accessLogFile, format: { text: mesh.accessLogFormat || ISTIO_DEFAULT_TEXT_FORMAT } }];
}

function providerAccessLog(p: ExtensionProvider): AccessLogPolicy | undefined {
  const f = p.envoyFileAccessLog;
  if (!f) return undefined; // gRPC/OTel access log services are not implemented
  const path = f.path || '/dev/stdout';
  if (f.logFormat?.labels) return { path, format: { json: { ...f.logFormat.labels } } };
  return { path, format: { text: f.logFormat?.text || ISTIO_DEFAULT_TEXT_FORMAT } };
}

/**
 * Istio's mergeLogs: which providers log on this class (Telemetry accessLogging, defaultProviders),
 * each with the filter expression of the accessLogging entry that enabled it last (an entry
 * without providers applies to the providers it inherits, and so does its filter).
 */
function loggingProviders(mesh: MeshConfig, levels: TelemetryAccessLogging[][], cls: ListenerClass): Map<string, string | undefined> {
  const defaults = mesh.defaultProviders?.accessLogging ?? [];
  if (levels.length === 0) return new Map(defaults.map((d) => [d, undefined]));
  let inScope = defaults;
  for (const level of levels) {
    const names = [...new Set(level.flatMap((l) => (l.providers ?? []).map((p) => p.name)))];
    if (names.length) inScope = names;
  }
  const providers = new Map<string, string | undefined>();
  let parent = defaults;
  for (const level of levels) {
    for (const l of level) {
      const names = l.providers?.length ? l.providers.map((p) => p.name) : parent;
      parent = names;
      for (const name of names) {
        if (!inScope.includes(name) || !modeApplies(l.match?.mode, cls)) continue;
        if (l.disabled) providers.delete(name);
        else providers.set(name, l.filter?.expression || undefined);
      }
    }
  }
  return new Map([...providers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The access logs of a listener of this class (empty: none). */
export function accessLogPolicy(pc: PushContext, telemetries: readonly Telemetry[], cls: ListenerClass): AccessLogPolicy[] {
  const mesh = pc.meshConfig;
  const levels = telemetries.map((t) => t.spec?.accessLogging ?? []).filter((l) => l.length > 0);
  if (levels.length === 0 && !(mesh.defaultProviders?.accessLogging ?? []).length) return legacyAccessLog(mesh);
  const out: AccessLogPolicy[] = [];
  for (const [name, filter] of loggingProviders(mesh, levels, cls)) {
    const p = findExtensionProvider(mesh, name);
    const policy = p ? providerAccessLog(p) : undefined;
    if (!policy) continue;
    if (filter) policy.filter = filter;
    out.push(policy);
  }
  return out;
}
