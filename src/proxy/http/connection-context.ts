/** Per-connection facts the HCM and TcpProxy need, attached to the downstream socket. */
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

export function contextOf(socket: unknown): ConnectionContext | undefined {
  return (socket as { [CONN_CTX]?: ConnectionContext } | undefined)?.[CONN_CTX];
}
