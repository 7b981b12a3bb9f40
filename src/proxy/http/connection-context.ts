/** Per-connection facts the HCM and TcpProxy need, attached to the downstream socket. */
import type * as http2 from 'node:http2';
import type { Destination } from '../listener/destination.js';

export interface ConnectionContext {
  listenerName: string;
  direction: 'inbound' | 'outbound';
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** connection-level destination (SO_ORIGINAL_DST or CONNECT target), when known */
  destination: Destination | undefined;
  /** set when the listener that owns this connection is draining */
  draining: boolean;
}

export const CONN_CTX = Symbol('clew.connectionContext');

type Carrier = { [CONN_CTX]?: ConnectionContext; stream?: Carrier } | undefined;

/** The context of a socket; also through node:http2's JSStreamSocket wrapper (`.stream`) of replayed sockets. */
export function contextOf(socket: unknown): ConnectionContext | undefined {
  const s = socket as Carrier;
  return s?.[CONN_CTX] ?? s?.stream?.[CONN_CTX];
}

function ignore(): void {}

/**
 * The transport socket under a downstream request: the HTTP/1 socket, or the session socket of an
 * HTTP/2 stream (whose stream errors are then swallowed: the stream's own handlers report them).
 */
export function requestSocket(req: { httpVersionMajor: number; socket: unknown }): unknown {
  if (req.httpVersionMajor !== 2) return req.socket;
  const stream = (req as unknown as http2.Http2ServerRequest).stream;
  stream.on('error', ignore);
  return stream.session?.socket;
}
