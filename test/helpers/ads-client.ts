/** A minimal SotW ADS client for tests: subscribes like Envoy (CDS/LDS wildcard, then EDS/RDS) and ACKs. */
import * as grpc from '@grpc/grpc-js';
import { lookupType } from '../../src/xds/proto-root.js';
import { decodeResource, type EnvoyResource } from '../../src/xds/codec.js';
import { jsonToStruct } from '../../src/xds/struct.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../src/xds/type-urls.js';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

export interface Received {
  typeUrl: string;
  version: string;
  resources: EnvoyResource[];
  at: number;
}

export class TestAdsClient {
  private client: grpc.Client;
  private call: grpc.ClientDuplexStream<any, any>;
  private names = new Map<string, string[]>();
  readonly received: Received[] = [];
  readonly latest = new Map<string, Received>();
  private waiters: (() => void)[] = [];

  /** the stream's end status (set when the server ends or refuses it) */
  status: { code: number; details: string } | undefined;

  constructor(
    address: string,
    node: { id: string; metadata?: Record<string, unknown> },
    opts: { nackTypes?: Set<string>; credentials?: grpc.ChannelCredentials; token?: string } = {},
  ) {
    this.client = new grpc.Client(address, opts.credentials ?? grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    if (opts.token) metadata.set('authorization', `Bearer ${opts.token}`);
    const Req = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const Res = lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    this.call = this.client.makeBidiStreamRequest(
      ADS_PATH,
      (o: any) => Buffer.from(Req.encode(Req.fromObject(o)).finish()),
      (b: Buffer) => Res.toObject(Res.decode(b), { longs: Number, enums: String }),
      metadata,
    );
    this.call.on('error', () => {});
    this.call.on('status', (st: grpc.StatusObject) => {
      this.status = { code: st.code, details: st.details };
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    });
    this.call.on('data', (res: any) => {
      const typeUrl: string = res.type_url;
      const resources = (res.resources ?? []).map((a: any) => decodeResource(typeUrl, a.value));
      const rec = { typeUrl, version: res.version_info, resources, at: performance.now() };
      this.received.push(rec);
      this.latest.set(typeUrl, rec);
      if (opts.nackTypes?.has(typeUrl)) {
        this.write(typeUrl, this.names.get(typeUrl) ?? [], '', res.nonce, { code: 3, message: 'test rejects this' });
      } else {
        this.write(typeUrl, this.names.get(typeUrl) ?? [], res.version_info, res.nonce);
      }
      if (typeUrl === CLUSTER_TYPE) {
        const eds = resources.filter((c: any) => c.eds_cluster_config || c.type === 'EDS').map((c: any) => c.name).sort();
        this.subscribe(ENDPOINT_TYPE, eds);
      }
      if (typeUrl === LISTENER_TYPE) {
        const routes = new Set<string>();
        for (const l of resources) for (const fc of l.filter_chains ?? []) for (const f of fc.filters ?? []) {
          const rn = f.typed_config?.rds?.route_config_name;
          if (rn) routes.add(rn);
        }
        this.subscribe(ROUTE_TYPE, [...routes].sort());
      }
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    });
    const md = node.metadata ? jsonToStruct(node.metadata) : undefined;
    this.call.write({ type_url: CLUSTER_TYPE, resource_names: [], node: { id: node.id, metadata: md, locality: {} } });
    this.names.set(CLUSTER_TYPE, []);
    this.write(LISTENER_TYPE, [], '', '');
  }

  private write(typeUrl: string, names: string[], version: string, nonce: string, error?: { code: number; message: string }): void {
    this.names.set(typeUrl, names);
    this.call.write({ type_url: typeUrl, resource_names: names, version_info: version, response_nonce: nonce, error_detail: error });
  }

  subscribe(typeUrl: string, names: string[]): void {
    const prev = this.names.get(typeUrl);
    if (prev && JSON.stringify(prev) === JSON.stringify(names)) return;
    const last = this.latest.get(typeUrl);
    this.write(typeUrl, names, last?.version ?? '', '');
  }

  /** Resolves when `cond` holds, checked after every response. */
  async until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!cond()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error('condition not met in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

export { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE };
