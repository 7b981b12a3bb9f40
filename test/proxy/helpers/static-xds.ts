/**
 * A tiny ADS server for tests (state of the world): serves the given resource objects by type,
 * lets the test replace them (pushing to connected proxies) and records ACKs and NACKs.
 */
import * as grpc from '@grpc/grpc-js';
import { encodeResource, type EnvoyResource } from '../../../src/xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../src/xds/type-urls.js';
import { adsServiceDefinition, type DiscoveryRequestMsg, type DiscoveryResponseMsg } from '../../../src/proxy/xds-client/xds-client-service.js';
import { resourceName } from '../../../src/proxy/xds-client/xds-client.js';
import { structToJson } from '../../../src/xds/struct.js';
import { lookupType } from '../../../src/xds/proto-root.js';

export interface XdsEvent {
  typeUrl: string;
  version: string;
  nonce: string;
  error?: string;
}

interface StreamState {
  call: grpc.ServerDuplexStream<DiscoveryRequestMsg, DiscoveryResponseMsg>;
  names: Map<string, string[] | undefined>;
  sentNonce: Map<string, string>;
}

const WILDCARD = new Set([CLUSTER_TYPE, LISTENER_TYPE]);

export class StaticXds {
  private server: grpc.Server | undefined;
  private readonly resources = new Map<string, EnvoyResource[]>();
  private readonly versions = new Map<string, number>();
  private readonly streams = new Set<StreamState>();
  private nonce = 0;
  readonly acks: XdsEvent[] = [];
  readonly nacks: XdsEvent[] = [];
  readonly nodes: unknown[] = [];
  readonly requests: DiscoveryRequestMsg[] = [];
  /** the `authorization` metadata of each stream opened */
  readonly authorizations: Array<string | undefined> = [];
  port = 0;

  constructor(initial: Partial<Record<string, EnvoyResource[]>> = {}) {
    for (const [t, r] of Object.entries(initial)) if (r) this.set(t, r, false);
  }

  version(typeUrl: string): string {
    return String(this.versions.get(typeUrl) ?? 0);
  }

  /** Replaces one type's resources and pushes them to every stream. */
  set(typeUrl: string, resources: EnvoyResource[], push = true): void {
    this.resources.set(typeUrl, resources);
    this.versions.set(typeUrl, (this.versions.get(typeUrl) ?? 0) + 1);
    if (push) for (const s of this.streams) if (s.names.has(typeUrl)) this.send(s, typeUrl);
  }

  async start(port = 0, creds: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    const server = new grpc.Server();
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequestMsg, DiscoveryResponseMsg>) => this.onStream(call),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return this.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Stops the server and drops every stream (the proxy should keep serving and reconnect). */
  async stop(): Promise<void> {
    for (const s of this.streams) s.call.destroy(new Error('server stopping'));
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    if (server) server.forceShutdown();
  }

  get connectedStreams(): number {
    return this.streams.size;
  }

  private onStream(call: grpc.ServerDuplexStream<DiscoveryRequestMsg, DiscoveryResponseMsg>): void {
    this.authorizations.push(call.metadata.get('authorization')[0] as string | undefined);
    const st: StreamState = { call, names: new Map(), sentNonce: new Map() };
    this.streams.add(st);
    call.on('data', (req: DiscoveryRequestMsg) => this.onRequest(st, req));
    call.on('error', () => this.streams.delete(st));
    call.on('end', () => {
      this.streams.delete(st);
      call.end();
    });
    call.on('cancelled', () => this.streams.delete(st));
  }

  private onRequest(st: StreamState, req: DiscoveryRequestMsg): void {
    this.requests.push(req);
    if (req.node) {
      const n = req.node as { metadata?: unknown };
      // decoded messages carry prototype defaults; go through toObject before reading the Struct
      const md = n.metadata ? lookupType('google.protobuf.Struct').toObject(n.metadata as never) : undefined;
      this.nodes.push({ ...n, metadata: structToJson(md) });
    }
    const t = req.type_url;
    const names = WILDCARD.has(t) ? undefined : [...(req.resource_names ?? [])].sort();
    const prevNames = st.names.get(t);
    const namesChanged = !st.names.has(t) || JSON.stringify(prevNames) !== JSON.stringify(names);
    st.names.set(t, names);
    const nonce = req.response_nonce ?? '';
    if (nonce && nonce === st.sentNonce.get(t)) {
      const ev: XdsEvent = { typeUrl: t, version: req.version_info ?? '', nonce };
      if (req.error_detail && req.error_detail.message) this.nacks.push({ ...ev, error: req.error_detail.message });
      else this.acks.push(ev);
      if (!namesChanged) return;
    } else if (nonce && !namesChanged) return; // stale nonce
    this.send(st, t);
  }

  private send(st: StreamState, typeUrl: string): void {
    const names = st.names.get(typeUrl);
    let list = this.resources.get(typeUrl) ?? [];
    if (names) list = list.filter((r) => names.includes(resourceName(typeUrl, r)));
    const nonce = String(++this.nonce);
    st.sentNonce.set(typeUrl, nonce);
    st.call.write({
      version_info: this.version(typeUrl),
      type_url: typeUrl,
      nonce,
      resources: list.map((r) => ({ type_url: typeUrl, value: encodeResource(typeUrl, r) })),
    });
  }
}

export { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE };
