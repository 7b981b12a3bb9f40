/**
 * Detects HTTP/2 prior knowledge from the first bytes of a connection. The bytes are unshifted
 * back onto the socket: the HTTP/1.1 codec reads them as data, and node:http2 hands bytes
 * buffered on the socket to the new session before it consumes the native handle. Only a socket
 * without a native handle is wrapped in a Duplex that replays the first chunk (http2 then runs
 * on its slower JSStreamSocket). TLS/ALPN would branch here too.
 */
import * as net from 'node:net';
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
      if (hasNativeHandle(socket)) {
        // node:http2 feeds bytes already buffered on the socket to the session before reading
        // the handle natively (Node >= 20), so the preface can simply be put back
        socket.unshift(chunk);
        cb('h2', socket);
        return;
      }
      cb('h2', replaying(socket, chunk));
      socket.resume();
    } else {
      socket.unshift(chunk);
      // flowing again before the codec starts: a codec reading directly parses the chunk inside
      // cb and may pause the socket there (an Upgrade or CONNECT hand-over); resuming after cb
      // would undo that pause
      socket.resume();
      cb('h1', socket);
    }
  });
}

/** A real net.Socket (TCP, or TLS on one): node:http2 reads what is buffered on it before its handle. */
function hasNativeHandle(socket: net.Socket): boolean {
  // a TLS socket's handle (TLSWrap) does not hand node:http2 the decrypted bytes put back on it
  if ((socket as { encrypted?: boolean }).encrypted === true) return false;
  return socket instanceof net.Socket;
}

/** A Duplex replaying the first chunk, for sockets without a native handle (node:http2 then runs on JSStreamSocket: slower) */
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
