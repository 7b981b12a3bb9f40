/**
 * ext_authz over gRPC (Envoy's envoy_grpc service): `envoy.service.auth.v3.Authorization/Check`
 * with @grpc/grpc-js to a host of the configured cluster (chosen by the cluster's balancer), the
 * CheckRequest/CheckResponse messages from Envoy's protos (protobufjs, the proxy's descriptor),
 * the call's deadline = the configured timeout, `:authority` = envoy_grpc.authority.
 * Status OK allows (ok_response headers to the upstream request, headers_to_remove,
 * response_headers_to_add to the client); any other status denies (denied_response status,
 * default 403, headers and body); a failed call (unavailable, deadline exceeded, reset) is an error.
 *
 * Channels are kept per host and authority for the process (at most MAX_CHANNELS, the oldest
 * closed beyond, counted in clew.overflow.ext_authz_grpc_channels) with a short reconnect backoff,
 * so a server that comes back is used again within a second. A host whose cluster transport is
 * TLS (an authorizer behind its sidecar: mTLS) is called through the cluster's own HTTP/2 pool
 * instead (ext-authz-grpc-pool.ts), which has the workload certificate and Istio's ALPN.
 * @grpc/grpc-js is imported when the first gRPC ext_authz filter is configured, not at proxy start
 * (a sidecar without one never loads it: test/cli/cli-lazy-commands).
 */
import type * as GrpcJs from '@grpc/grpc-js';
import { lookupType } from '../../../xds/proto-root.js';
import { overflowCounter } from '../../../stats/stats-overflow.js';
import type { Cluster } from '../../upstream/cluster.js';
import type { ClusterSlot } from '../../upstream/cluster-slot.js';
import type { Host } from '../../upstream/host.js';
import { unaryOverPool } from './ext-authz-grpc-pool.js';
import { authzHost, headerValue, type AuthzClient, type CheckInput, type CheckResult, type HeaderEdit } from './ext-authz-check.js';
import type { GrpcTarget, NameList } from './ext-authz-config.js';

export const CHECK_METHOD_PATH = '/envoy.service.auth.v3.Authorization/Check';
const MAX_CHANNELS = 256;
const CHANNELS_OVERFLOW = overflowCounter('ext_authz_grpc_channels');
const channels = new Map<string, GrpcJs.Client>();

let grpcLoading: Promise<typeof GrpcJs> | undefined;
let grpc: typeof GrpcJs | undefined;
/** Starts loading @grpc/grpc-js (once); `grpc` is set when it is in. */
function loadGrpc(): Promise<typeof GrpcJs> {
  grpcLoading ??= import('@grpc/grpc-js').then((m) => (grpc = m));
  return grpcLoading;
}

const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.min_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.max_receive_message_length': 1024 * 1024,
};

function channelFor(grpc: typeof GrpcJs, address: string, port: number, authority: string): GrpcJs.Client {
  const target = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const key = `${target}|${authority}`;
  let c = channels.get(key);
  if (c) return c;
  if (channels.size >= MAX_CHANNELS) {
    CHANNELS_OVERFLOW.inc();
    const [oldKey, old] = channels.entries().next().value as [string, GrpcJs.Client];
    channels.delete(oldKey);
    old.close();
  }
  c = new grpc.Client(target, grpc.credentials.createInsecure(), { ...CHANNEL_OPTIONS, 'grpc.default_authority': authority });
  channels.set(key, c);
  return c;
}

/** Closes every channel (tests, proxy shutdown). */
export function closeExtAuthzChannels(): void {
  for (const c of channels.values()) c.close();
  channels.clear();
}

interface Types {
  req: ReturnType<typeof lookupType>;
  res: ReturnType<typeof lookupType>;
}
let types: Types | undefined;
function checkTypes(): Types {
  return (types ??= { req: lookupType('envoy.service.auth.v3.CheckRequest'), res: lookupType('envoy.service.auth.v3.CheckResponse') });
}

function peer(p: CheckInput['source']): Record<string, unknown> {
  return { address: { socket_address: { address: p.address, port_value: p.port } }, ...(p.principal ? { principal: p.principal } : {}) };
}

/** Envoy's CheckRequest for a stream: pseudo headers and request headers (those allowed), body as configured. */
export function encodeCheckRequest(input: CheckInput, o: { allowed?: NameList; disallowed?: NameList; packAsBytes?: boolean; tlsSession?: boolean }): Uint8Array {
  const headers: Record<string, string> = {
    ':authority': input.authority,
    ':method': input.method,
    ':path': input.path,
    ':scheme': input.scheme,
  };
  for (const [k, v] of Object.entries(input.headers)) {
    const value = headerValue(v);
    if (value === undefined || k.startsWith(':') || k === 'host') continue;
    if (o.allowed !== undefined && !o.allowed(k)) continue;
    headers[k] = value;
  }
  if (o.disallowed) for (const k of Object.keys(headers)) if (o.disallowed(k)) delete headers[k];
  if (input.body !== undefined) headers['x-envoy-auth-partial-body'] = String(input.partialBody);
  const now = Date.now();
  const http: Record<string, unknown> = {
    id: input.id, method: input.method, headers, path: input.path, host: input.authority, scheme: input.scheme, protocol: input.protocol, size: input.size,
  };
  if (input.body !== undefined) {
    if (o.packAsBytes) http.raw_body = input.body;
    else http.body = input.body.toString('utf8');
  }
  const attributes: Record<string, unknown> = {
    source: peer(input.source),
    destination: peer(input.destination),
    request: { time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 }, http },
  };
  if (o.tlsSession && input.sni) attributes.tls_session = { sni: input.sni };
  const t = checkTypes().req;
  return t.encode(t.fromObject({ attributes })).finish();
}

function headerOptions(list: unknown, appendDefault: boolean): HeaderEdit[] {
  const out: HeaderEdit[] = [];
  for (const o of (list ?? []) as Array<Record<string, any>>) {
    const key = String(o.header?.key ?? '').toLowerCase();
    if (!key) continue;
    const append = o.append_action !== undefined ? o.append_action === 0 || o.append_action === 'APPEND_IF_EXISTS_OR_ADD' : o.append?.value ?? appendDefault;
    out.push({ key, value: String(o.header?.value ?? ''), append: append === true });
  }
  return out;
}

/** Maps a CheckResponse to a decision. */
export function decodeCheckResponse(bytes: Uint8Array): CheckResult {
  const t = checkTypes().res;
  const r = t.toObject(t.decode(bytes), { enums: Number, longs: Number, bytes: Buffer }) as Record<string, any>;
  const code = Number(r.status?.code ?? 0);
  if (code === 0) {
    const ok = (r.ok_response ?? {}) as Record<string, any>;
    return {
      kind: 'ok',
      upstream: headerOptions(ok.headers, false),
      remove: ((ok.headers_to_remove ?? []) as string[]).map((h) => String(h).toLowerCase()),
      downstream: headerOptions(ok.response_headers_to_add, false),
    };
  }
  const d = (r.denied_response ?? {}) as Record<string, any>;
  const status = Number(d.status?.code ?? 0);
  return { kind: 'denied', status: status >= 100 && status <= 599 ? status : 403, headers: headerOptions(d.headers, false), body: String(d.body ?? '') };
}

const identity = (b: Buffer): Buffer => b;

export class GrpcAuthzClient implements AuthzClient {
  constructor(
    private readonly t: GrpcTarget,
    private readonly slot: ClusterSlot,
    private readonly encodeOptions: { allowed?: NameList; disallowed?: NameList; packAsBytes?: boolean; tlsSession?: boolean },
  ) {
    void loadGrpc().catch(() => undefined);
  }

  check(input: CheckInput, done: (r: CheckResult) => void): () => void {
    const picked = authzHost(this.slot, this.t.cluster);
    if ('error' in picked) {
      done(picked.error);
      return () => undefined;
    }
    const { cluster, host } = picked;
    if (host.transport.secure) return this.checkOverPool(cluster, host, input, done);
    if (grpc !== undefined) return this.checkWith(grpc, host, input, done);
    // the first check of a process waits for @grpc/grpc-js (loading started when the filter was parsed)
    let cancelled = false;
    let cancel: (() => void) | undefined;
    loadGrpc().then(
      (m) => {
        if (!cancelled) cancel = this.checkWith(m, host, input, done);
      },
      (err: unknown) => {
        if (!cancelled) done({ kind: 'error', reason: `@grpc/grpc-js did not load: ${(err as Error).message}` });
      },
    );
    return () => {
      cancelled = true;
      cancel?.();
    };
  }

  /** A TLS host (an authorizer behind its sidecar): the cluster's own HTTP/2 pool carries the call over mTLS. */
  private checkOverPool(cluster: Cluster, host: Host, input: CheckInput, done: (r: CheckResult) => void): () => void {
    if (!cluster.config.http2) {
      done({ kind: 'error', reason: `cluster ${this.t.cluster} needs TLS but is not HTTP/2 (name its port grpc or set the protocol)` });
      return () => undefined;
    }
    return unaryOverPool(cluster, host, CHECK_METHOD_PATH, this.t.authority, encodeCheckRequest(input, this.encodeOptions), this.t.timeoutMs, (a) => {
      if (a.error !== undefined || a.message === undefined) return done({ kind: 'error', reason: a.error ?? 'no CheckResponse' });
      try {
        done(decodeCheckResponse(a.message));
      } catch (e) {
        done({ kind: 'error', reason: `bad CheckResponse: ${(e as Error).message}` });
      }
    });
  }

  private checkWith(grpc: typeof GrpcJs, host: Host, input: CheckInput, done: (r: CheckResult) => void): () => void {
    let finished = false;
    const client = channelFor(grpc, host.address, host.port, this.t.authority);
    const call = client.makeUnaryRequest<Buffer, Buffer>(
      CHECK_METHOD_PATH,
      identity,
      identity,
      Buffer.from(encodeCheckRequest(input, this.encodeOptions)),
      new grpc.Metadata(),
      { deadline: Date.now() + this.t.timeoutMs },
      (err, value) => {
        if (finished) return;
        finished = true;
        if (err) return done({ kind: 'error', reason: `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}` });
        try {
          done(decodeCheckResponse(value ?? Buffer.alloc(0)));
        } catch (e) {
          done({ kind: 'error', reason: `bad CheckResponse: ${(e as Error).message}` });
        }
      },
    );
    call.on('error', () => undefined);
    return () => {
      if (finished) return;
      finished = true;
      call.cancel();
    };
  }
}
