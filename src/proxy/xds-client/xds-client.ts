/**
 * ADS client, state of the world. Subscribes CDS and LDS wildcard; EDS and RDS names are set by
 * the config applier (like Envoy: CDS -> EDS, LDS -> RDS). Every response is handed to the
 * applier; success -> ACK (new version, response nonce), failure -> NACK (old version,
 * error_detail code 3). A lost stream reconnects with exponential backoff + jitter and resends
 * the known versions and subscriptions.
 */
import { decodeResource, type EnvoyResource } from '../../xds/codec.js';
import type { XdsNode } from '../../xds/node-metadata.js';
import { jsonToStruct } from '../../xds/struct.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, NAME_TABLE_TYPE, ROUTE_TYPE, SECRET_TYPE } from '../../xds/type-urls.js';
import { ADS_PATH, adsClientCodec, type DiscoveryRequestMsg, type DiscoveryResponseMsg } from './xds-client-service.js';
import { AdsChannel, type AdsCall } from './xds-client-transport.js';

/** Thrown by an applier when a response cannot be applied; its message becomes the NACK detail. */
export class XdsRejectError extends Error {
  readonly code = 'CLEW_XDS_REJECT';
  constructor(message: string) {
    super(message);
    this.name = 'XdsRejectError';
  }
}

export interface XdsApplier {
  /** Applies the full state of one type; throws (XdsRejectError) to NACK. */
  apply(typeUrl: string, resources: Map<string, EnvoyResource>, version: string): void;
}

export interface XdsClientOptions {
  address: string;
  node: XdsNode;
  applier: XdsApplier;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** TLS to the control plane's secure port: the trusted root, read at each connection */
  tls?: () => { ca: string };
  /** per-stream metadata (the workload token as `authorization: Bearer`, read at each use) */
  metadata?: () => Record<string, string>;
}

interface TypeState {
  version: string;
  nonce: string;
  /** undefined = wildcard */
  names: string[] | undefined;
  requested: boolean;
}

export function resourceName(typeUrl: string, r: EnvoyResource): string {
  if (typeUrl === NAME_TABLE_TYPE) return '';
  return typeUrl === ENDPOINT_TYPE ? String(r.cluster_name ?? '') : String(r.name ?? '');
}

/** the largest response accepted (the control plane's whole config for this proxy) */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const KEEPALIVE_MS = 30_000;

export class XdsClient {
  private client: AdsChannel | undefined;
  private call: AdsCall<DiscoveryRequestMsg, DiscoveryResponseMsg> | undefined;
  private readonly types = new Map<string, TypeState>();
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private firstOnStream = true;
  connected = false;
  /** for /server_info and status */
  lastError = '';

  constructor(private readonly opts: XdsClientOptions) {
    this.types.set(CLUSTER_TYPE, { version: '', nonce: '', names: undefined, requested: true });
    this.types.set(LISTENER_TYPE, { version: '', nonce: '', names: undefined, requested: true });
    this.types.set(ENDPOINT_TYPE, { version: '', nonce: '', names: [], requested: false });
    this.types.set(ROUTE_TYPE, { version: '', nonce: '', names: [], requested: false });
    // SDS over ADS: the names the active TLS contexts watch (the secret manager sets them)
    this.types.set(SECRET_TYPE, { version: '', nonce: '', names: [], requested: false });
    // Istio's NDS name table, explicitly wildcard (it is not one of the wildcard-by-default types)
    this.types.set(NAME_TABLE_TYPE, { version: '', nonce: '', names: ['*'], requested: true });
  }

  start(): void {
    // reconnects are ours (openStream after a backoff): the channel just dials when asked
    this.client = new AdsChannel({ address: this.opts.address, keepaliveMs: KEEPALIVE_MS, maxMessageBytes: MAX_RESPONSE_BYTES, tls: this.opts.tls, metadata: this.opts.metadata });
    this.openStream();
  }

  /** Sets the resource names of a non-wildcard type (EDS, RDS); sends a request if they changed. */
  setNames(typeUrl: string, names: string[]): void {
    const st = this.types.get(typeUrl);
    if (!st) return;
    const sorted = [...new Set(names)].sort();
    if (st.requested && st.names && sameList(st.names, sorted)) return;
    st.names = sorted;
    st.requested = true;
    this.send(typeUrl);
  }

  versions(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [t, s] of this.types) out[t] = s.version;
    return out;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.call?.cancel();
    this.client?.close();
  }

  private openStream(): void {
    if (this.closed || !this.client) return;
    const { encode, decode } = adsClientCodec();
    const call = this.client.open(ADS_PATH, encode, decode);
    this.call = call;
    this.firstOnStream = true;
    for (const st of this.types.values()) st.nonce = '';
    call.on('data', (res: DiscoveryResponseMsg) => {
      this.connected = true;
      this.attempt = 0;
      this.onResponse(res);
    });
    call.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    call.on('status', () => this.onStreamEnd(call));
    call.on('end', () => this.onStreamEnd(call));
    // CDS before LDS, like Envoy; then the dependent types if already known (resync).
    for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, SECRET_TYPE, NAME_TABLE_TYPE]) {
      if (this.types.get(t)!.requested) this.send(t);
    }
  }

  private onStreamEnd(call: typeof this.call): void {
    if (call !== this.call) return;
    this.call = undefined;
    this.connected = false;
    if (this.closed) return;
    const base = this.opts.backoffBaseMs ?? 250;
    const max = this.opts.backoffMaxMs ?? 30000;
    const ceiling = Math.min(max, base * 2 ** this.attempt++);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.opts.log?.('warn', `xds stream closed (${this.lastError || 'ended'}); reconnecting in ${Math.round(delay)} ms`);
    this.retryTimer = setTimeout(() => this.openStream(), delay);
  }

  private send(typeUrl: string, errorDetail?: string): void {
    const call = this.call;
    if (!call) return;
    const st = this.types.get(typeUrl)!;
    const req: DiscoveryRequestMsg = {
      version_info: st.version,
      resource_names: st.names ?? [],
      type_url: typeUrl,
      response_nonce: st.nonce,
    };
    if (this.firstOnStream) {
      const n = this.opts.node;
      req.node = { ...n, metadata: jsonToStruct((n.metadata ?? {}) as Record<string, unknown>) };
      this.firstOnStream = false;
    }
    if (errorDetail !== undefined) req.error_detail = { code: 3, message: errorDetail };
    call.write(req);
  }

  private onResponse(res: DiscoveryResponseMsg): void {
    const typeUrl = res.type_url;
    const st = this.types.get(typeUrl);
    if (!st) return;
    st.nonce = res.nonce;
    let error: string | undefined;
    try {
      const map = new Map<string, EnvoyResource>();
      for (const any of res.resources ?? []) {
        const r = decodeResource(any.type_url || typeUrl, any.value);
        map.set(resourceName(typeUrl, r), r);
      }
      this.opts.applier.apply(typeUrl, map, res.version_info);
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (error === undefined) {
      st.version = res.version_info;
      this.send(typeUrl);
    } else {
      this.opts.log?.('warn', `rejecting ${typeUrl} version ${res.version_info}: ${error}`);
      this.send(typeUrl, error);
    }
  }
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
