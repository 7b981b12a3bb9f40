/**
 * The ADS gRPC server (go-control-plane's role): envoy.service.discovery.v3.AggregatedDiscoveryService
 * with StreamAggregatedResources (state of the world) and DeltaAggregatedResources (incremental).
 * Resources come from an XdsResourceSource; this module only speaks the protocol.
 *
 * Events: 'connect' (s) when the first request with a node arrives; 'disconnect' (s) when a
 * connected stream ends; 'ack' (s, typeUrl, version, latencyMs); 'nack' (s, typeUrl, version,
 * message); 'request' (s, typeUrl, names) for every request received with a type.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { adsServiceDefinition, adsTypes, type DeltaDiscoveryRequest, type DiscoveryRequest } from './ads-messages.js';
import { ResourceCache } from './ads-resource-cache.js';
import { WriteBudget } from './ads-write-budget.js';
import { AdsStream, type StreamContext } from './ads-stream.js';
import { DeltaStream } from './ads-stream-delta.js';
import { SotwStream } from './ads-stream-sotw.js';
import { grpcBindAddress, shutdownGrpcServer } from './grpc-server-lifecycle.js';
import {
  XdsServerError,
  type AdsLogger,
  type AdsServerOptions,
  type PushRequest,
  type StreamCredentials,
  type StreamRefusal,
  type StreamStatus,
  type XdsResourceSource,
  type XdsStreamInfo,
} from './ads-types.js';


export class AdsServer extends EventEmitter {
  /** Shared encoded-bytes caches; exposed for diagnostics (encodeCount) and tests. */
  readonly cache = new ResourceCache();
  /** response bytes in flight across streams; exposed for diagnostics and tests */
  readonly budget: WriteBudget;
  private server: grpc.Server | undefined;
  private readonly live = new Map<number, AdsStream<any>>();
  private readonly log: AdsLogger;
  private readonly ctx: StreamContext;
  private nextStreamId = 1;
  private nonceSeq = 0;
  /** pushes deferred behind an unwritten response, streams dropped for not reading, nodes refused */
  readonly stats = { deferred: 0, dropped: 0, rejectedNodes: 0 };
  private pushSeq = 0;
  private closed = false;

  constructor(source: XdsResourceSource, private readonly options: AdsServerOptions = {}) {
    super();
    this.log = options.logger ?? (() => {});
    this.budget = new WriteBudget(options.writeBudgetBytes, options.stallMs ?? 1000);
    this.ctx = {
      source,
      cache: this.cache,
      budget: this.budget,
      log: this.log,
      emit: (event, ...args) => {
        try {
          this.emit(event, ...args);
        } catch (err) {
          this.log('warn', `xds server: '${event}' listener threw: ${(err as Error).message}`);
        }
      },
      nextNonce: () => (++this.nonceSeq).toString(36),
      stallMs: options.stallMs ?? 1000,
      dropMs: options.dropMs ?? 30_000,
      stats: this.stats,
      admit: options.admit,
    };
  }

  /** Resolves to the bound port (port 0 picks a free one). */
  async listen(host: string, port: number): Promise<number> {
    if (this.closed) throw new XdsServerError('XDS_SERVER_CLOSED', 'xds server is closed');
    if (this.server) throw new XdsServerError('XDS_LISTEN_FAILED', 'xds server already listening');
    adsTypes(); // load the protos before the first stream arrives
    // requests are small (node, names, a NACK's message); 4 MiB is gRPC's own default
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
    this.attach(server, false);
    const addr = grpcBindAddress(host, port);
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, p) => {
        if (err) reject(new XdsServerError('XDS_LISTEN_FAILED', `xds server cannot listen on ${addr}: ${err.message}`, { cause: err }));
        else resolve(p);
      });
    });
    this.server = server;
    this.log('info', `xds server listening on ${host}:${bound}`);
    return bound;
  }

  /**
   * Serves ADS on another gRPC server too (e.g. a TLS port the caller owns and binds): its streams
   * are this server's streams (pushes, status, close). `secure` tells streams they came over TLS.
   */
  attach(server: grpc.Server, secure: boolean): void {
    adsTypes();
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>) => this.accept(call, false, secure),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>) => this.accept(call, true, secure),
    });
  }

  private accept(call: grpc.ServerDuplexStream<any, Buffer>, delta: boolean, secure: boolean): void {
    if (this.closed) {
      call.end();
      return;
    }
    const info: XdsStreamInfo = { id: this.nextStreamId++, peer: call.getPeer(), node: undefined, connectedAt: Date.now(), delta, secure };
    const stream: AdsStream<any> = delta ? new DeltaStream(info, this.ctx, call) : new SotwStream(info, this.ctx, call);
    this.live.set(info.id, stream);
    this.log('debug', `xds stream ${info.id} opened from ${info.peer}${delta ? ' (delta)' : ''}${secure ? ' (tls)' : ''}`);
    const authenticate = this.options.authenticate;
    if (authenticate) {
      // first in the stream's queue: every request waits for the caller to be known
      const credentials = streamCredentials(call, info);
      void stream.enqueue('authenticate', async () => {
        try {
          info.caller = await authenticate(credentials);
        } catch (err) {
          const refusal = toRefusal(err);
          this.log('warn', `xds stream ${info.id} from ${info.peer} refused: ${refusal.message}`);
          stream.refuse(refusal);
        }
      });
    }
    call.on('data', (req: DiscoveryRequest & DeltaDiscoveryRequest) => {
      void stream.enqueue(`request ${req.type_url}`, () => stream.handleRequest(req));
    });
    const gone = (why: string): void => {
      if (stream.closed) return;
      stream.closed = true;
      stream.dispose();
      this.live.delete(info.id);
      this.log('debug', `xds stream ${info.id} ${why}`);
      if (stream.connectEmitted) this.ctx.emit('disconnect', info);
    };
    call.on('end', () => {
      // The client half-closed: finish our side too.
      gone('ended by client');
      try {
        call.end();
      } catch {
        /* already closed */
      }
    });
    call.on('cancelled', () => gone('cancelled'));
    call.on('error', (err: Error) => gone(`failed: ${err.message}`));
    call.on('close', () => gone('closed'));
  }

  /**
   * Recomputes and sends what changed. typeUrls undefined = every subscribed type; filter selects
   * streams. Resolves when the responses have been handed to the streams (not ACKed).
   */
  async push(request: PushRequest = {}): Promise<number> {
    if (this.closed) throw new XdsServerError('XDS_SERVER_CLOSED', 'xds server is closed');
    const id = ++this.pushSeq;
    const started = Date.now();
    const selected = [...this.live.values()].filter((s) => !s.closed && (!request.filter || request.filter(s.info)));
    // a stream whose client has not taken its last response is never waited on: its push is
    // deferred and runs, with the state of then, once the client reads (or the stream is dropped)
    const targets: AdsStream<any>[] = [];
    for (const s of selected) {
      if (s.busy) s.defer(request.typeUrls);
      else targets.push(s);
    }
    const writes = await Promise.all(targets.map((s) => s.enqueue(`push ${id}`, () => s.push(request.typeUrls))));
    const all = writes.flatMap((w) => w ?? []);
    await Promise.all(all);
    this.log('debug', `xds push ${id}${request.reason ? ` (${request.reason})` : ''}: ${targets.length} streams, ${all.length} responses in ${Date.now() - started} ms`);
    return id;
  }

  /** Ends a live stream with a gRPC error status (e.g. when its credential is withdrawn). */
  refuse(streamId: number, refusal: StreamRefusal): boolean {
    const s = this.live.get(streamId);
    if (!s || s.closed) return false;
    s.refuse(refusal);
    return true;
  }

  streams(): StreamStatus[] {
    return [...this.live.values()].map((s) => ({ stream: { ...s.info }, types: s.status() }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const server = this.server;
    this.server = undefined;
    for (const s of [...this.live.values()]) s.end();
    if (!server) return;
    await shutdownGrpcServer(server);
    for (const s of [...this.live.values()]) {
      s.closed = true;
      s.dispose();
      this.live.delete(s.info.id);
      if (s.connectEmitted) this.ctx.emit('disconnect', s.info);
    }
  }
}

const UNAUTHENTICATED = 16;

function toRefusal(err: unknown): StreamRefusal {
  const e = err as Partial<StreamRefusal> & { message?: string };
  if (typeof e?.code === 'number' && e.code > 0 && e.code <= 16 && typeof e.message === 'string') return { code: e.code, message: e.message };
  return { code: UNAUTHENTICATED, message: e?.message ?? String(err) };
}

function streamCredentials(call: grpc.ServerDuplexStream<any, Buffer>, info: XdsStreamInfo): StreamCredentials {
  const metadata: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = typeof v === 'string' ? v : v.toString('utf8');
  let peerCertificate: Buffer | undefined;
  if (info.secure) {
    try {
      const raw = call.getAuthContext()?.sslPeerCertificate?.raw;
      if (raw && raw.length > 0) peerCertificate = raw;
    } catch {
      /* no auth context */
    }
  }
  return { metadata, peer: info.peer, secure: info.secure, peerCertificate };
}
