/**
 * Public contracts of the ADS server. The server knows nothing of Istio: it asks an
 * XdsResourceSource for resources (Clew's object form, see ARCHITECTURE.md) and tracks the xDS
 * protocol state (subscriptions, versions, nonces, ACK/NACK) per stream and type.
 */
import type { EnvoyResource } from '../xds/codec.js';
import type { XdsNode } from '../xds/node-metadata.js';

export type { EnvoyResource, XdsNode };

export interface XdsStreamInfo {
  id: number;
  /** grpc peer, e.g. "127.0.0.1:54321" */
  peer: string;
  /** from the first request that carried one (clients may omit it afterwards) */
  node: XdsNode | undefined;
  /** ms since epoch */
  connectedAt: number;
  /** true for DeltaAggregatedResources streams */
  delta: boolean;
  /** true when the stream arrived on a TLS port */
  secure: boolean;
  /**
   * What the server's `authenticate` hook proved about the client (opaque here); undefined for an
   * anonymous client. Set before the stream's first request is handled.
   */
  caller?: StreamCaller;
}

/** Who a stream's client proved to be; its shape belongs to the `authenticate` hook's owner. */
export type StreamCaller = Readonly<Record<string, unknown>>;

/** What a client presented when it opened a stream. */
export interface StreamCredentials {
  /** gRPC request metadata (e.g. `authorization`) */
  metadata: Record<string, string | undefined>;
  peer: string;
  secure: boolean;
  /** DER of the client's TLS certificate, when it sent one */
  peerCertificate?: Buffer;
}

/** A refusal of a stream, sent as its gRPC status. */
export interface StreamRefusal {
  /** a gRPC status code (16 UNAUTHENTICATED, 7 PERMISSION_DENIED) */
  code: number;
  message: string;
}

export interface XdsResourceSource {
  /**
   * names undefined = wildcard. Returns name -> resource object. May be async.
   * Returned objects must not be mutated afterwards: encoded bytes are cached per object identity,
   * so returning the same objects to many streams is what makes pushes cheap.
   */
  resources(
    stream: XdsStreamInfo,
    typeUrl: string,
    names: string[] | undefined,
  ): Map<string, EnvoyResource> | Promise<Map<string, EnvoyResource>>;
}

export interface TypeStatus {
  typeUrl: string;
  subscribed: string[] | '*';
  sentVersion?: string;
  sentNonce?: string;
  sentAt?: number;
  ackedVersion?: string;
  ackedNonce?: string;
  ackedAt?: number;
  /** the last NACK, cleared by a later ACK. version is the one the client kept. */
  nack?: { version: string; nonce: string; message: string; at: number };
  /** resources in the last response (SotW) or currently held by the client (delta) */
  resourceCount: number;
}

/** The send/ACK/NACK progress both stream kinds keep per type (the part of TypeStatus they own). */
export type TypeProgress = Pick<TypeStatus, 'sentVersion' | 'sentNonce' | 'sentAt' | 'ackedVersion' | 'ackedNonce' | 'ackedAt' | 'nack'>;

export interface StreamStatus {
  stream: XdsStreamInfo;
  types: TypeStatus[];
}

export interface PushRequest {
  /** undefined = every type the selected streams subscribe to */
  typeUrls?: string[];
  /** selects streams; undefined = all */
  filter?: (s: XdsStreamInfo) => boolean;
  /** for logs only */
  reason?: string;
}

export type AdsLogger = (level: 'debug' | 'info' | 'warn', msg: string) => void;

export interface AdsServerOptions {
  logger?: AdsLogger;
  /**
   * Runs when a stream opens, before any of its requests is handled: resolves to the caller
   * (undefined = anonymous); a rejection with a StreamRefusal (or any error: UNAUTHENTICATED)
   * ends the stream with that status.
   */
  authenticate?: (credentials: StreamCredentials) => Promise<StreamCaller | undefined>;
  /**
   * Runs when a stream's node is first known, before 'connect': a returned refusal ends the
   * stream with that status and nothing is sent on it.
   */
  admit?: (stream: XdsStreamInfo) => StreamRefusal | undefined;
  /** cap on response bytes in flight across streams (ads-write-budget.ts; default 64 MiB) */
  writeBudgetBytes?: number;
  /**
   * a response its client has not taken after this long marks the stream stalled: the push stops
   * waiting for it and its budget is given back (default 1000 ms); pushes to a stream with an
   * unwritten response are deferred and coalesced to the latest version
   */
  stallMs?: number;
  /** a stream whose client has not read for this long is dropped (default 30 s) */
  dropMs?: number;
}

export type XdsServerErrorCode = 'XDS_SERVER_CLOSED' | 'XDS_ENCODE_FAILED' | 'XDS_SOURCE_FAILED' | 'XDS_LISTEN_FAILED';

/** Limits on what a client may send about itself (the control plane keeps and persists it). */
export const MAX_NODE_ID_BYTES = 1024;
export const MAX_NODE_METADATA_BYTES = 64 * 1024;
/** A NACK's error_detail kept per stream and type (status, logs) is cut to this. */
export const MAX_NACK_MESSAGE = 2048;

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
}

export class XdsServerError extends Error {
  constructor(
    readonly code: XdsServerErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'XdsServerError';
  }
}
