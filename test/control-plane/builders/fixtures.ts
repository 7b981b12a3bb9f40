/** Shared test fixtures: config constructors, proxies, and the encode/decode round-trip check. */
import assert from 'node:assert/strict';
import type { ConfigResource, IstioKind } from '../../../src/config/types.js';
import type { ProxyIdentity } from '../../../src/xds/node-metadata.js';
import { createLocalRegistry } from '../../../src/registry/index.js';
import { createPushContext, type PushContext } from '../../../src/control-plane/builders/index.js';
import type { MeshConfig } from '../../../src/config/mesh-config.js';
import { decodeResource, encodeResource, type EnvoyResource } from '../../../src/xds/codec.js';

const API: Record<string, string> = { Service: 'v1', Telemetry: 'telemetry.istio.io/v1', AuthorizationPolicy: 'security.istio.io/v1', RequestAuthentication: 'security.istio.io/v1', EnvoyFilter: 'networking.istio.io/v1alpha3' };

export function res<S>(kind: IstioKind, name: string, spec: S, namespace = 'default', labels?: Record<string, string>): ConfigResource<S> {
  return {
    apiVersion: API[kind] ?? 'networking.istio.io/v1',
    kind,
    metadata: labels ? { name, namespace, labels } : { name, namespace },
    spec,
  };
}

export function kubeService(name: string, ports: { name?: string; port: number; targetPort?: number | string; appProtocol?: string }[], selector: Record<string, string> = { app: name }, namespace = 'default'): ConfigResource {
  return res('Service', name, { selector, ports }, namespace);
}

export function proxy(overrides: Partial<ProxyIdentity> = {}): ProxyIdentity {
  return {
    type: 'sidecar',
    name: 'productpage-v1',
    namespace: 'default',
    address: '127.0.10.1',
    labels: { app: 'productpage', version: 'v1' },
    serviceAccount: 'default',
    interceptionMode: 'NONE',
    podPorts: [{ name: 'http', containerPort: 9080, protocol: 'TCP' }],
    appPorts: {},
    ...overrides,
  };
}

export function workloadProxy(name: string, app: string, version: string, address: string, port = 9080, extra: Partial<ProxyIdentity> = {}): ProxyIdentity {
  return proxy({
    name, address, labels: { app, version },
    podPorts: [{ name: 'http', containerPort: port, protocol: 'TCP' }], ...extra,
  });
}

/** Builds a push context from config plus proxies registered as workloads (and a mesh config). */
export function makePc(config: ConfigResource[], proxies: ProxyIdentity[] = [], meshConfig?: MeshConfig): PushContext {
  const reg = createLocalRegistry();
  reg.setConfig(config);
  for (const p of proxies) reg.upsertProxyWorkload(`${p.type}~${p.address}~${p.name}.${p.namespace}~x`, p);
  return createPushContext({ config, registry: reg, version: 'test', meshConfig });
}

/** Encodes and decodes; asserts nothing was silently dropped (misspelled field names). */
export function assertRoundTrip(typeUrl: string, resource: EnvoyResource): void {
  const back = decodeResource(typeUrl, encodeResource(typeUrl, resource));
  assert.deepEqual(back, JSON.parse(JSON.stringify(resource)));
}

export function byName<T extends EnvoyResource>(list: T[], name: string): T {
  const found = list.find((r) => r.name === name || r.cluster_name === name);
  assert.ok(found, `resource ${name} not found among ${list.map((r) => r.name ?? r.cluster_name).join(', ')}`);
  return found;
}

export const BOOKINFO_SERVICES = [
  kubeService('productpage', [{ name: 'http', port: 9080 }]),
  kubeService('details', [{ name: 'http', port: 9080 }]),
  kubeService('reviews', [{ name: 'http', port: 9080 }]),
  kubeService('ratings', [{ name: 'http', port: 9080 }]),
];

export const BOOKINFO_WORKLOADS = [
  workloadProxy('productpage-v1', 'productpage', 'v1', '127.0.10.1'),
  workloadProxy('details-v1', 'details', 'v1', '127.0.10.2'),
  workloadProxy('reviews-v1', 'reviews', 'v1', '127.0.10.3'),
  workloadProxy('reviews-v2', 'reviews', 'v2', '127.0.10.4'),
  workloadProxy('reviews-v3', 'reviews', 'v3', '127.0.10.5'),
  workloadProxy('ratings-v1', 'ratings', 'v1', '127.0.10.6'),
];

export function subsetsRule(host: string, versions: string[], namespace = 'default', trafficPolicy?: unknown): ConfigResource {
  return res('DestinationRule', host, {
    host,
    ...(trafficPolicy ? { trafficPolicy } : {}),
    subsets: versions.map((v) => ({ name: v, labels: { version: v } })),
  }, namespace);
}

export function vs(name: string, spec: unknown, namespace = 'default'): ConfigResource {
  return res('VirtualService', name, spec, namespace);
}
