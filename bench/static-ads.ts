/**
 * A fixed-resource ADS server for benchmarks (state of the world): serves the given listeners,
 * routes, clusters and endpoints to every proxy that connects, and records NACKs so that a run
 * fails loudly when a proxy refuses its config. The mTLS benchmarks use it to hand two sidecars a
 * hand-written mesh whose TLS contexts name the agent's SDS secrets (`default`, `ROOTCA`), while
 * the certificates themselves come from a real control plane's CA (bench/mtls-mesh.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { encodeResource, type EnvoyResource } from '../src/xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../src/xds/type-urls.js';
import { adsServiceDefinition, type DiscoveryRequestMsg, type DiscoveryResponseMsg } from '../src/proxy/xds-client/xds-client-service.js';
import { resourceName } from '../src/proxy/xds-client/xds-client.js';

export interface StaticResources {
  listeners: EnvoyResource[];
  routes: EnvoyResource[];
  clusters: EnvoyResource[];
  endpoints?: EnvoyResource[];
}

type Call = grpc.ServerDuplexStream<DiscoveryRequestMsg, DiscoveryResponseMsg>;

export class StaticAds {
  readonly nacks: string[] = [];
  private server: grpc.Server | undefined;
  private readonly calls = new Set<Call>();
  /** encoded once, up front (a resource that does not encode fails the constructor, not a stream) */
  private readonly byType = new Map<string, Array<{ name: string; value: Uint8Array }>>();
  private nonce = 0;
  port = 0;

  constructor(r: StaticResources) {
    const all: Array<[string, EnvoyResource[]]> = [[LISTENER_TYPE, r.listeners], [ROUTE_TYPE, r.routes], [CLUSTER_TYPE, r.clusters], [ENDPOINT_TYPE, r.endpoints ?? []]];
    for (const [t, list] of all) this.byType.set(t, list.map((res) => ({ name: resourceName(t, res), value: encodeResource(t, res) })));
  }

  async start(): Promise<string> {
    const server = new grpc.Server();
    server.addService(adsServiceDefinition(), { StreamAggregatedResources: (call: Call) => this.onStream(call) });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return `127.0.0.1:${this.port}`;
  }

  stop(): void {
    for (const c of this.calls) c.destroy();
    this.calls.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private onStream(call: Call): void {
    this.calls.add(call);
    // last names asked per type: answer a new subscription or a change of names, not an ACK
    const asked = new Map<string, string>();
    call.on('data', (req: DiscoveryRequestMsg) => {
      const t = req.type_url;
      if (req.error_detail?.message) this.nacks.push(`${t}: ${req.error_detail.message}`);
      const names = [...(req.resource_names ?? [])].sort();
      const key = JSON.stringify(names);
      if (asked.get(t) === key) return;
      asked.set(t, key);
      let list = this.byType.get(t) ?? [];
      // listeners and clusters are wildcard subscriptions; the other types are asked by name
      if (t !== LISTENER_TYPE && t !== CLUSTER_TYPE) list = list.filter((r) => names.includes(r.name));
      call.write({
        version_info: '1',
        type_url: t,
        nonce: String(++this.nonce),
        resources: list.map((r) => ({ type_url: t, value: r.value })),
      });
    });
    const gone = (): void => {
      this.calls.delete(call);
    };
    call.on('error', gone);
    call.on('cancelled', gone);
    call.on('end', () => {
      gone();
      call.end();
    });
  }
}
