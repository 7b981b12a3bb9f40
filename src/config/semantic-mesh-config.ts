/**
 * MeshConfig semantics: extension providers (one kind each, unique names, valid services),
 * default providers that exist, the legacy zipkin address, JSON access-log formats.
 */
import { isIP } from 'node:net';
import { joinIndex, joinKey } from './field-path.js';
import { defaultMeshConfig } from './mesh-config.js';
import { Codes } from './messages.js';
import { PROVIDER_KINDS } from './schema-mesh-config.js';
import { asList, asObj, asObjList, asStr, findDuplicates, has, type Obj } from './semantic-util.js';
import { checkWildcardDomain, isDns1123Label } from './value-host.js';

export interface MessageSink {
  error(field: string, message: string, code: string): void;
  warn(field: string, message: string, code: string): void;
}

/** `zipkin.istio-system.svc.cluster.local` or `namespace/host` (Istio's provider service form). */
function checkProviderService(service: string): string | undefined {
  const slash = service.indexOf('/');
  const host = slash < 0 ? service : service.slice(slash + 1);
  if (slash >= 0 && !isDns1123Label(service.slice(0, slash))) return `invalid namespace "${service.slice(0, slash)}" in service "${service}"`;
  if (host.includes('*') || checkWildcardDomain(host)) return `invalid service "${service}" (expected a host name such as zipkin.istio-system.svc.cluster.local, optionally namespace/host)`;
  return undefined;
}

/** `host:port` (the legacy ProxyConfig zipkin address). */
export function checkAddress(address: string): string | undefined {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  const host = m?.[1].replace(/^\[|\]$/g, '');
  const port = Number(m?.[2]);
  if (!m || !host || !(isIP(host) || !checkWildcardDomain(host)) || port < 1 || port > 65535) {
    return `invalid address "${address}" (expected host:port such as zipkin.istio-system:9411)`;
  }
  return undefined;
}

export function validateMeshConfig(mesh: Obj, sink: MessageSink): void {
  const providers = asObjList(mesh.extensionProviders);
  providers.forEach((p, i) => {
    const pp = joinIndex('extensionProviders', i);
    if (asStr(p.name) === '') sink.error(joinKey(pp, 'name'), 'must not be empty', Codes.empty);
    if (!PROVIDER_KINDS.some((k) => has(p, k))) {
      sink.error(pp, 'must set one provider (zipkin, opentelemetry, envoyFileAccessLog, prometheus, ...)', Codes.empty);
    }
    for (const kind of ['envoyExtAuthzHttp', 'envoyExtAuthzGrpc'] as const) {
      if (!has(p, kind)) continue;
      const e = asObj(p[kind]);
      const kp = joinKey(pp, kind);
      const portText = String(e.port ?? '');
      if (!(/^\d+$/.test(portText) && Number(portText) >= 1 && Number(portText) <= 65535)) sink.error(joinKey(kp, 'port'), `must be a port number 1-65535, got ${JSON.stringify(e.port)}`, Codes.range);
      const status = asStr(e.statusOnError);
      if (status !== undefined && status !== '' && !(/^\d+$/.test(status) && Number(status) >= 100 && Number(status) <= 599)) {
        sink.error(joinKey(kp, 'statusOnError'), `"${status}" is not an HTTP status code`, Codes.format);
      }
      const prefix = asStr(e.pathPrefix);
      if (prefix !== undefined && prefix !== '' && !/^\/[\x21-\x7e]*$/.test(prefix)) sink.error(joinKey(kp, 'pathPrefix'), `must begin with / and have no spaces ("${prefix}")`, Codes.format);
      if (has(e, 'includeRequestBodyInCheck') && !(Number(asObj(e.includeRequestBodyInCheck).maxRequestBytes) > 0)) {
        sink.error(joinKey(joinKey(kp, 'includeRequestBodyInCheck'), 'maxRequestBytes'), 'must be greater than 0', Codes.range);
      }
    }
    for (const kind of ['zipkin', 'opentelemetry', 'envoyExtAuthzHttp', 'envoyExtAuthzGrpc'] as const) {
      const service = asStr(asObj(p[kind]).service);
      const err = service !== undefined ? checkProviderService(service) : undefined;
      if (err) sink.error(joinKey(joinKey(pp, kind), 'service'), err, Codes.host);
    }
    if (has(p, 'opentelemetry') && !has(asObj(p.opentelemetry), 'http')) {
      sink.warn(joinKey(pp, 'opentelemetry'), 'without http this provider exports OTLP over gRPC, which Clew\'s proxy does not do; set http: {path: /v1/traces}', Codes.format);
    }
  });
  findDuplicates(providers.map((p) => asStr(p.name)), (name, i) =>
    sink.error(joinKey(joinIndex('extensionProviders', i), 'name'), `duplicate extension provider name "${name}"`, Codes.duplicate),
  );

  // Default providers may name Istio's built-in providers as well as the file's own.
  const known = new Set([...(defaultMeshConfig().extensionProviders ?? []), ...providers].map((p) => String(p.name ?? '').toLowerCase()));
  const dp = asObj(mesh.defaultProviders);
  for (const signal of ['tracing', 'metrics', 'accessLogging'] as const) {
    asList(dp[signal]).forEach((name, i) => {
      if (typeof name === 'string' && !known.has(name.toLowerCase())) {
        sink.warn(joinIndex(joinKey('defaultProviders', signal), i), `provider "${name}" is not defined in extensionProviders`, Codes.referenceNotFound);
      }
    });
  }

  const address = asStr(asObj(asObj(asObj(mesh.defaultConfig).tracing).zipkin).address);
  if (address !== undefined) {
    const err = checkAddress(address);
    if (err) sink.error('defaultConfig.tracing.zipkin.address', err, Codes.format);
  }

  const format = asStr(mesh.accessLogFormat);
  if (mesh.accessLogEncoding === 'JSON' && format) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(format);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      sink.error('accessLogFormat', 'must be a JSON object of log keys to format strings when accessLogEncoding is JSON', Codes.format);
    }
  }

  const td = asStr(mesh.trustDomain);
  if (td !== undefined && !/^[a-z0-9]([-a-z0-9._]*[a-z0-9])?$/i.test(td)) {
    sink.error('trustDomain', `"${td}" is not a valid trust domain (letters, digits, '-', '.', '_')`, Codes.format);
  }
  const root = asStr(mesh.rootNamespace);
  if (root !== undefined && root !== 'istio-system') {
    sink.warn('rootNamespace', `Clew's root namespace is always istio-system; "${root}" is ignored`, Codes.format);
  }
}
