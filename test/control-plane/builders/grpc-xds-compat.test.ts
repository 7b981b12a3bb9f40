/**
 * Proxyless gRPC: the resources a grpc-js-xds client asks for must pass its own validation
 * (the decoders it runs on every resource it receives).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { buildClusters, buildEndpoints, buildListeners, buildRoutes } from '../../../src/control-plane/builders/index.js';
import { encodeResource, type EnvoyResource } from '../../../src/xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../src/xds/type-urls.js';
import { BOOKINFO_SERVICES, BOOKINFO_WORKLOADS, makePc, proxy, subsetsRule, vs } from './fixtures.js';

const require = createRequire(import.meta.url);
// register() installs grpc-js-xds's HTTP filter implementations, which listener validation consults.
require('@grpc/grpc-js-xds').register();
const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';
type Decoder = { get(): { decode(ctx: unknown, any: { type_url: string; value: Buffer }): { name: string; error?: string } } };
const decoders: Record<string, Decoder> = {
  [LISTENER_TYPE]: require(base + 'listener-resource-type.js').ListenerResourceType,
  [ROUTE_TYPE]: require(base + 'route-config-resource-type.js').RouteConfigurationResourceType,
  [CLUSTER_TYPE]: require(base + 'cluster-resource-type.js').ClusterResourceType,
  [ENDPOINT_TYPE]: require(base + 'endpoint-resource-type.js').EndpointResourceType,
};
const ctx = {
  server: { serverUri: 'localhost:15010', channelCredentials: { type: 'insecure' }, serverFeatures: [] },
  bootstrap: { xdsServers: [], node: { id: 'x', locality: {} }, authorities: {}, clientDefaultListenerResourceNameTemplate: '%s' },
};

function accept(typeUrl: string, resources: EnvoyResource[]): void {
  assert.ok(resources.length > 0);
  for (const r of resources) {
    const out = decoders[typeUrl].get().decode(ctx, { type_url: typeUrl, value: Buffer.from(encodeResource(typeUrl, r)) });
    assert.equal(out.error, undefined, `${r.name ?? r.cluster_name}: ${out.error}`);
  }
}

test('grpc-js-xds accepts the api_listener, route configuration, clusters and endpoints built for a proxyless client', () => {
  const pc = makePc([
    ...BOOKINFO_SERVICES,
    subsetsRule('reviews', ['v1', 'v2'], 'default', { loadBalancer: { consistentHash: { httpHeaderName: 'x-user' } }, outlierDetection: { consecutive5xxErrors: 2 } }),
    vs('reviews', {
      hosts: ['reviews'],
      http: [
        { match: [{ headers: { 'end-user': { exact: 'jason' } } }], fault: { delay: { percent: 100, fixedDelay: '1s' }, abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 10 } } }, retries: { attempts: 3, retryOn: 'unavailable' }, timeout: '2s', route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
        { route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 70 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 30 }] },
      ],
    }),
  ], BOOKINFO_WORKLOADS);
  const client = proxy({ name: 'grpc-client', podPorts: [], address: '' });
  const target = 'reviews.default.svc.cluster.local:9080';
  accept(LISTENER_TYPE, buildListeners(pc, client, [target, 'ratings.default:9080']));
  accept(ROUTE_TYPE, buildRoutes(pc, client, [target, 'ratings.default:9080']));
  const clusterNames = ['', 'v1', 'v2'].map((s) => `outbound|9080|${s}|reviews.default.svc.cluster.local`);
  accept(CLUSTER_TYPE, buildClusters(pc, client, [...clusterNames, 'outbound|9080||ratings.default.svc.cluster.local']));
  accept(ENDPOINT_TYPE, buildEndpoints(pc, client, clusterNames));
});
