/**
 * A listener for captured traffic (virtualOutbound, virtualInbound under REDIRECT or TPROXY):
 * the native addon owns the listening socket and accepts from it on Node's event loop, reading
 * each connection's original destination as it does; here each accepted descriptor becomes a
 * `net.Socket` (the public `new net.Socket({ fd })`) and is emitted as net.Server emits its
 * connections. The original destination stays with the socket (capturedDestination), for the
 * listener manager's destination resolver.
 *
 * It has the part of net.Server's surface the listener manager uses: listen(options, cb) (a bind
 * error is an 'error' event, asynchronously), address(), listening, close(cb) ('close' when the
 * listening socket is closed: accepted connections are the manager's, which closes them) and
 * 'connection' / 'error' (an accept() failure such as EMFILE: the listener goes on). With
 * reusePort, close() first takes the connections already queued on the socket.
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { closeSync } from 'node:fs';
import type { AddonListener, OriginalDstAddon } from './original-dst.js';

export interface CapturedDestination {
  host: string;
  port: number;
}

const destinations = new WeakMap<net.Socket, CapturedDestination>();

/** Where a connection accepted by a capture listener was headed (undefined: conntrack had no entry). */
export function capturedDestination(socket: net.Socket): CapturedDestination | undefined {
  return destinations.get(socket);
}

export interface CaptureListenerOptions {
  /** IP_TRANSPARENT (TPROXY) */
  transparent?: boolean;
  /** SO_REUSEPORT: node:cluster workers (and the next hot-restart generation) each bind one */
  reusePort?: boolean;
  backlog?: number;
}

export class CaptureListenerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CaptureListenerError';
  }
}

export class CaptureListener extends EventEmitter {
  private listener: AddonListener | undefined;
  private host = '';

  constructor(
    private readonly addon: OriginalDstAddon | undefined,
    private readonly options: CaptureListenerOptions = {},
    private readonly addonError?: string,
  ) {
    super();
  }

  get listening(): boolean {
    return this.listener !== undefined;
  }

  listen(options: { host: string; port: number }, cb?: () => void): this {
    if (this.listener) throw new CaptureListenerError('ERR_SERVER_ALREADY_LISTEN', 'the capture listener is already listening');
    try {
      if (!this.addon) {
        throw new CaptureListenerError('ERR_CLEW_NO_ADDON', `transparent capture needs the original-destination addon (native/original-dst, built by npm ci with node-gyp): ${this.addonError ?? 'not built'}`);
      }
      const host = options.host === '' ? '0.0.0.0' : options.host;
      if (net.isIP(host) === 0) throw new CaptureListenerError('ERR_INVALID_ARG_VALUE', `a capture listener listens on an IP address, not ${JSON.stringify(options.host)}`);
      this.listener = this.addon.listen(
        { host, port: options.port, backlog: this.options.backlog, transparent: !!this.options.transparent, reusePort: !!this.options.reusePort },
        (batch) => this.onAccept(batch),
        (code, message) => this.emit('error', new CaptureListenerError(code, message)),
      );
      this.host = host;
    } catch (err) {
      process.nextTick(() => this.emit('error', err));
      return this;
    }
    process.nextTick(() => {
      cb?.();
      this.emit('listening');
    });
    return this;
  }

  address(): net.AddressInfo | null {
    const l = this.listener;
    if (!l) return null;
    return { address: this.host, family: l.family === 6 ? 'IPv6' : 'IPv4', port: l.port };
  }

  close(cb?: (err?: Error) => void): this {
    const l = this.listener;
    if (!l) {
      if (cb) process.nextTick(() => cb(new CaptureListenerError('ERR_SERVER_NOT_RUNNING', 'the capture listener is not listening')));
      return this;
    }
    // with SO_REUSEPORT (hot restart) connections queued on this socket are taken and served
    // rather than reset by the close: the next generation's socket gets the new ones
    const queued = this.addon!.close(l.handle, !!this.options.reusePort);
    this.onAccept(queued);
    this.listener = undefined;
    process.nextTick(() => {
      cb?.();
      this.emit('close');
    });
    return this;
  }

  private onAccept(batch: Array<number | string | null>): void {
    for (let i = 0; i + 2 < batch.length; i += 3) {
      const fd = batch[i] as number;
      const address = batch[i + 1] as string | null;
      const port = batch[i + 2] as number;
      if (!this.listener) {
        // closed while this batch was being handed over: nobody takes these connections
        closeQuietly(fd);
        continue;
      }
      let socket: net.Socket;
      try {
        socket = new net.Socket({ fd, readable: true, writable: true });
      } catch (err) {
        closeQuietly(fd);
        this.emit('error', err);
        continue;
      }
      if (address !== null) destinations.set(socket, { host: address, port });
      this.emit('connection', socket);
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
