/** envoy.transport_sockets.raw_buffer: plain TCP, the default transport of every cluster. */
import * as net from 'node:net';
import { bindDirect, directConnectOptions } from '../codec/socket-direct.js';
import { lookupFor } from './dns-lookup.js';
import type { UpstreamConnectOptions, UpstreamTransport } from '../core/transport-socket.js';

export const RAW_BUFFER_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';

function connectRaw(host: string, port: number, o: UpstreamConnectOptions): net.Socket {
  const ka = o.keepaliveMs;
  // a host name (passthrough to the client's Host) resolves through the bounded lookup
  const base: net.NetConnectOpts = o.localAddress === undefined ? { host, port, noDelay: true, ...lookupFor(host) } : { host, port, noDelay: true, localAddress: o.localAddress, ...lookupFor(host) };
  if (o.direct) {
    const direct = directConnectOptions();
    return bindDirect(net.connect(ka === undefined ? { ...base, ...direct } : { ...base, ...direct, keepAlive: true, keepAliveInitialDelay: ka }), direct);
  }
  return net.connect(ka === undefined ? base : { ...base, keepAlive: true, keepAliveInitialDelay: ka });
}

/** One shared instance: raw_buffer has no config and no state. */
export const RAW_BUFFER: UpstreamTransport = {
  kind: 'raw_buffer',
  secure: false,
  alpn: [],
  readyEvent: 'connect',
  connect: connectRaw,
  failureReason: () => undefined,
  connectionInfo: () => undefined,
  notReady: () => undefined,
  close: () => undefined,
};
