/**
 * Detects HTTP/2 prior knowledge from the first bytes of a connection. HTTP/1 sockets get the
 * bytes unshifted (node:http reads them back); node:http2 consumes the raw handle, so an h2
 * socket is wrapped in a Duplex that replays the first chunk. TLS/ALPN would branch here too.
 */
import type * as net from 'node:net';
import { Duplex } from 'node:stream';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export type SniffResult = 'h2' | 'h1';

export function looksLikeH2(chunk: Buffer): boolean {
  const n = Math.min(chunk.length, PREFACE.length);
  return n >= 3 && chunk.subarray(0, n).equals(PREFACE.subarray(0, n));
}

/** Reads the first chunk, then calls back with the protocol and a socket positioned at byte 0. */
export function sniffProtocol(socket: net.Socket, cb: (proto: SniffResult, stream: net.Socket | Duplex) => void): void {
  socket.once('data', (chunk: Buffer) => {
    socket.pause();
    if (looksLikeH2(chunk)) {
      cb('h2', replaying(socket, chunk));
    } else {
      socket.unshift(chunk);
      cb('h1', socket);
    }
    socket.resume();
  });
}

function replaying(socket: net.Socket, first: Buffer): Duplex {
  const d = new Duplex({
    read() {
      socket.resume();
    },
    write(c, _e, cb) {
      socket.write(c, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.destroy(err ?? undefined);
      cb(err);
    },
  });
  d.push(first);
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('error', (err) => d.destroy(err));
  Object.assign(d, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    setNoDelay: () => d,
    setKeepAlive: () => d,
    setTimeout: () => d,
  });
  return d;
}
