/**
 * Istio's MeshConfig (the `mesh` key of the istio ConfigMap, `--mesh-config` for Clew): the parts
 * Clew reads, Istio's defaults, and how a user's file is applied over them (Istio's
 * ApplyMeshConfig: fields override, defaultConfig merges, extensionProviders merge by name).
 */

export type AccessLogEncoding = 'TEXT' | 'JSON';

export interface ZipkinTracingProvider {
  /** `zipkin.istio-system.svc.cluster.local` or `ns/host` */
  service: string;
  port: number;
  maxTagLength?: number;
  /** collector path, default /api/v2/spans */
  path?: string;
  enable64bitTraceId?: boolean;
  timeout?: string;
}

export interface OpenTelemetryTracingProvider {
  service: string;
  port: number;
  maxTagLength?: number;
  /** OTLP over HTTP; without it Istio uses OTLP/gRPC, which Clew does not export */
  http?: { path?: string; timeout?: string; headers?: unknown[] };
  grpc?: { timeout?: string; initialMetadata?: unknown[] };
}

export interface EnvoyFileAccessLogProvider {
  path?: string;
  logFormat?: { text?: string; labels?: Record<string, unknown> };
  omitEmptyValues?: boolean;
}

export interface ExtensionProvider {
  name: string;
  zipkin?: ZipkinTracingProvider;
  opentelemetry?: OpenTelemetryTracingProvider;
  envoyFileAccessLog?: EnvoyFileAccessLogProvider;
  prometheus?: Record<string, never>;
  /** Other provider kinds Istio knows (stackdriver, datadog, skywalking, envoyOtelAls, ...) pass through. */
  [kind: string]: unknown;
}

export interface MeshTracing {
  zipkin?: { address?: string };
  /** 0..100; Istio's default (PILOT_TRACE_SAMPLING) is 1 */
  sampling?: number;
  maxPathTagLength?: number;
  customTags?: Record<string, unknown>;
  [tracer: string]: unknown;
}

export interface ProxyConfig {
  tracing?: MeshTracing;
  [field: string]: unknown;
}

export interface DefaultProviders {
  tracing?: string[];
  metrics?: string[];
  accessLogging?: string[];
}

export interface MeshConfig {
  enableTracing?: boolean;
  accessLogFile?: string;
  accessLogFormat?: string;
  accessLogEncoding?: AccessLogEncoding;
  defaultConfig?: ProxyConfig;
  extensionProviders?: ExtensionProvider[];
  defaultProviders?: DefaultProviders;
  trustDomain?: string;
  rootNamespace?: string;
  /** how proxies normalize request paths before routing and authorization (unset/DEFAULT = BASE) */
  pathNormalization?: { normalization?: PathNormalizationType };
  /** ALLOW_ANY (default): unknown destinations pass through; REGISTRY_ONLY: they are blocked */
  outboundTrafficPolicy?: { mode?: 'REGISTRY_ONLY' | 'ALLOW_ANY' };
  /** Istio's auto mTLS: clients use mTLS towards endpoints with a sidecar (default true) */
  enableAutoMtls?: boolean;
  /** TLS of Istio mTLS connections (minProtocolVersion default TLSV1_2) */
  meshMTLS?: { minProtocolVersion?: 'TLS_AUTO' | 'TLSV1_2' | 'TLSV1_3'; cipherSuites?: string[]; ecdhCurves?: string[] };
  [field: string]: unknown;
}

export type PathNormalizationType = 'DEFAULT' | 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export const DEFAULT_ZIPKIN_ADDRESS = 'zipkin.istio-system:9411';
/** Istio's trace sampling default (PILOT_TRACE_SAMPLING), in percent. */
export const DEFAULT_TRACE_SAMPLING = 1;

/** The tracers of ProxyConfig.tracing: one of them at most. */
export const MESH_TRACERS = ['zipkin', 'lightstep', 'datadog', 'stackdriver', 'openCensusAgent'] as const;

/**
 * Istio's default mesh config as the standard install ships it: no access log, tracing enabled
 * to zipkin.istio-system:9411, providers prometheus/stackdriver/envoy, metrics by prometheus.
 */
export function defaultMeshConfig(): MeshConfig {
  return {
    enableTracing: true,
    accessLogFile: '',
    accessLogFormat: '',
    accessLogEncoding: 'TEXT',
    defaultConfig: { tracing: { zipkin: { address: DEFAULT_ZIPKIN_ADDRESS } } },
    extensionProviders: [
      { name: 'prometheus', prometheus: {} },
      { name: 'stackdriver', stackdriver: {} },
      { name: 'envoy', envoyFileAccessLog: { path: '/dev/stdout' } },
    ],
    defaultProviders: { metrics: ['prometheus'] },
    trustDomain: 'cluster.local',
    rootNamespace: 'istio-system',
    enableAutoMtls: true,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null || v === undefined) continue;
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/**
 * `user` (a validated mesh config document) applied over `base`: plain fields replace,
 * defaultConfig merges field by field (a tracer set by the user replaces the default one),
 * defaultProviders replace per signal, extensionProviders replace by name or are appended.
 */
export function applyMeshConfig(user: MeshConfig, base: MeshConfig = defaultMeshConfig()): MeshConfig {
  const out: MeshConfig = { ...base };
  for (const [k, v] of Object.entries(user)) {
    if (v === null || v === undefined) continue;
    if (k === 'defaultConfig' || k === 'defaultProviders' || k === 'extensionProviders') continue;
    out[k] = v;
  }
  if (isObject(user.defaultConfig)) {
    const baseConfig: ProxyConfig = { ...(base.defaultConfig ?? {}) };
    const userTracing = user.defaultConfig.tracing;
    if (isObject(userTracing) && MESH_TRACERS.some((t) => userTracing[t] !== undefined && userTracing[t] !== null) && baseConfig.tracing) {
      const tracing = { ...baseConfig.tracing };
      for (const t of MESH_TRACERS) delete tracing[t];
      baseConfig.tracing = tracing;
    }
    out.defaultConfig = deepMerge(baseConfig, user.defaultConfig) as ProxyConfig;
  }
  if (isObject(user.defaultProviders)) {
    const dp: DefaultProviders = { ...(base.defaultProviders ?? {}) };
    for (const k of ['tracing', 'metrics', 'accessLogging'] as const) {
      const v = user.defaultProviders[k];
      if (Array.isArray(v)) dp[k] = [...v];
    }
    out.defaultProviders = dp;
  }
  if (Array.isArray(user.extensionProviders)) {
    const providers = [...(base.extensionProviders ?? [])];
    for (const p of user.extensionProviders) {
      const i = providers.findIndex((e) => e.name === p.name);
      if (i >= 0) providers[i] = p;
      else providers.push(p);
    }
    out.extensionProviders = providers;
  }
  return out;
}

/** The provider of that name (Istio compares names case-insensitively). */
export function findExtensionProvider(mesh: MeshConfig, name: string): ExtensionProvider | undefined {
  const lc = name.toLowerCase();
  return (mesh.extensionProviders ?? []).find((p) => p.name.toLowerCase() === lc);
}

/** The provider's kind: the one key besides `name` (zipkin, opentelemetry, prometheus, ...). */
export function providerKind(p: ExtensionProvider): string | undefined {
  return Object.keys(p).find((k) => k !== 'name' && p[k] !== undefined && p[k] !== null);
}
