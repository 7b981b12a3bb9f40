/**
 * ext_authz over gRPC (Envoy's envoy_grpc service): `envoy.service.auth.v3.Authorization/Check`
 * through the proxy's shared gRPC side-call client (src/proxy/grpc-client/: host chosen by the
 * cluster's balancer, @grpc/grpc-js channels for plaintext hosts, the cluster's own HTTP/2 pool
 * over mTLS for meshed ones, deadline = the configured timeout, `:authority` =
 * envoy_grpc.authority), the CheckRequest/CheckResponse messages from Envoy's protos (protobufjs,
 * the proxy's descriptor).
 * Status OK allows (ok_response headers to the upstream request, headers_to_remove,
 * response_headers_to_add to the client); any other status denies (denied_response status,
 * default 403, headers and body); a failed call (unavailable, deadline exceeded, reset) is an error.
 */
import { lookupType } from '../../../xds/proto-root.js';
import type { ClusterSlot } from '../../upstream/cluster-slot.js';
import { closeGrpcSideCallChannels, GrpcUnaryClient } from '../../grpc-client/grpc-unary-client.js';
import { headerValue, type AuthzClient, type CheckInput, type CheckResult, type HeaderEdit } from './ext-authz-check.js';
import type { GrpcTarget, NameList } from './ext-authz-config.js';

export const CHECK_METHOD_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** Closes every side-call channel (tests, proxy shutdown). */
export function closeExtAuthzChannels(): void {
  closeGrpcSideCallChannels();
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

export class GrpcAuthzClient implements AuthzClient {
  private readonly client: GrpcUnaryClient;
  constructor(
    t: GrpcTarget,
    slot: ClusterSlot,
    private readonly encodeOptions: { allowed?: NameList; disallowed?: NameList; packAsBytes?: boolean; tlsSession?: boolean },
  ) {
    this.client = new GrpcUnaryClient(t, slot);
  }

  check(input: CheckInput, done: (r: CheckResult) => void): () => void {
    return this.client.call(CHECK_METHOD_PATH, encodeCheckRequest(input, this.encodeOptions), (r) => {
      if (!r.ok) return done({ kind: 'error', reason: r.reason });
      try {
        done(decodeCheckResponse(r.message));
      } catch (e) {
        done({ kind: 'error', reason: `bad CheckResponse: ${(e as Error).message}` });
      }
    });
  }
}
