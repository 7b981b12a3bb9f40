/**
 * Test helpers: a real grpc-js ADS client (hand-built method definitions over the shared protobufjs
 * types), a mutable resource source, and sample resources.
 */
import * as grpc from '@grpc/grpc-js';
import { lookupType } from '../../src/xds/proto-root.js';
import { decodeResource, type EnvoyResource } from '../../src/xds/codec.js';
import type { XdsResourceSource, XdsStreamInfo } from '../../src/xds-server/ads-types.js';
import { jsonToStruct } from '../../src/xds/struct.js';

const TO_OBJECT = { longs: Number, enums: String, defaults: true, arrays: true, objects: true } as const;

function codec(name: string) {
  const t = lookupType(name);
  return {
    serialize: (v: any): Buffer => Buffer.from(t.encode(t.fromObject(v)).finish()),
    deserialize: (b: Buffer): any => t.toObject(t.decode(b), TO_OBJECT),
  };
}

export class TestAdsStream {
  private readonly queue: any[] = [];
  private readonly waiters: ((v: any) => void)[] = [];
  readonly ended: Promise<grpc.StatusObject | Error>;
  private readonly call: grpc.ClientDuplexStream<any, any>;

  constructor(client: grpc.Client, delta: boolean) {
    const svc = '/envoy.service.discovery.v3.AggregatedDiscoveryService/';
    const req = codec(delta ? 'envoy.service.discovery.v3.DeltaDiscoveryRequest' : 'envoy.service.discovery.v3.DiscoveryRequest');
    const res = codec(delta ? 'envoy.service.discovery.v3.DeltaDiscoveryResponse' : 'envoy.service.discovery.v3.DiscoveryResponse');
    this.call = client.makeBidiStreamRequest(
      svc + (delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'),
      req.serialize,
      res.deserialize,
    );
    this.call.on('data', (m) => {
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    this.ended = new Promise((resolve) => {
      this.call.on('status', resolve);
      this.call.on('error', resolve);
    });
  }

  send(req: Record<string, unknown>): void {
    const r = { ...req };
    if (r.node && (r.node as any).metadata) r.node = { ...(r.node as any), metadata: jsonToStruct((r.node as any).metadata) };
    this.call.write(r);
  }

  /** The next response, or a rejection after timeoutMs. */
  next(timeoutMs = 3000): Promise<any> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const w = (m: any): void => {
        clearTimeout(timer);
        resolve(m);
      };
      this.waiters.push(w);
    });
  }

  /** Fails if any response arrives within ms. */
  async expectNone(ms = 250): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    if (this.queue.length) throw new Error(`unexpected response: ${JSON.stringify(summary(this.queue[0]))}`);
  }

  cancel(): void {
    this.call.cancel();
  }

  end(): void {
    this.call.end();
  }
}

export function summary(res: any): unknown {
  return { version: res.version_info ?? res.system_version_info, nonce: res.nonce, type: res.type_url, n: res.resources?.length };
}

/** Names of the resources of a SotW response, decoded from their bare Anys. */
export function sotwNames(res: any): string[] {
  return res.resources.map((a: any) => resourceName(decodeResource(a.type_url, a.value))).sort();
}

export function resourceName(r: EnvoyResource): string {
  return (r.name ?? r.cluster_name) as string;
}

export function newClient(port: number): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

export class TestSource implements XdsResourceSource {
  readonly data = new Map<string, Map<string, EnvoyResource>>();
  calls: { stream: number; typeUrl: string; names: string[] | undefined }[] = [];

  set(typeUrl: string, resources: EnvoyResource[]): void {
    this.data.set(typeUrl, new Map(resources.map((r) => [resourceName(r), r])));
  }

  put(typeUrl: string, r: EnvoyResource): void {
    if (!this.data.has(typeUrl)) this.data.set(typeUrl, new Map());
    this.data.get(typeUrl)!.set(resourceName(r), r);
  }

  remove(typeUrl: string, name: string): void {
    this.data.get(typeUrl)?.delete(name);
  }

  resources(stream: XdsStreamInfo, typeUrl: string, names: string[] | undefined): Map<string, EnvoyResource> {
    this.calls.push({ stream: stream.id, typeUrl, names });
    const all = this.data.get(typeUrl) ?? new Map();
    if (!names) return new Map(all);
    return new Map(names.filter((n) => all.has(n)).map((n) => [n, all.get(n)!]));
  }
}

export const listener = (name: string, port = 8080): EnvoyResource => ({
  name,
  address: { socket_address: { address: '0.0.0.0', port_value: port } },
});
export const cluster = (name: string, ms = 1000): EnvoyResource => ({
  name,
  type: 'EDS',
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  connect_timeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
});
export const route = (name: string, clusterName = 'c'): EnvoyResource => ({
  name,
  virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: clusterName } }] }],
});
export const endpoints = (name: string, port: number): EnvoyResource => ({
  cluster_name: name,
  endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }],
});

export function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}
