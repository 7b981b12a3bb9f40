/**
 * Socket I/O for Clew's HTTP/1.1 codecs, on net.Socket's public API.
 *
 * Reads: each read reaches the codec's reader as one I/O turn (io-turn.ts). Sockets the proxy
 * connects (transport/raw-buffer.ts, and transport/tls-upstream.ts: `tls.connect` takes the same
 * option when it makes the socket) read in net's documented `onread` mode
 * (`net.connect({ onread })`): one shared buffer, a callback per read (TLS: per decrypted
 * record batch), no Readable, no 'data' event and no read-ahead tick; a reader sees the bytes only
 * during its call (the buffer is reused by the next read). Sockets accepted by a server (net
 * offers `onread` only to sockets it connects) read through their 'data' events; when
 * such a socket leaves the codec (Upgrade, CONNECT), `releaseDirect` removes the codec's listener
 * and the socket is an ordinary Readable again.
 *
 * Writes go through socket.write (a latin1 string, or a Buffer); a response's head and body are
 * joined into one Buffer first, so each leaves in one write.
 */
import type * as net from 'node:net';
import { enterTurn, leaveTurn } from './io-turn.js';

/** The read buffer of every socket in onread mode: each read is handled before the next one lands. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** on a socket read through its 'data' events: its reader, or null once released */
const READER = Symbol('clew.directReader');
/** on onread options and the socket made with them: where their reads go */
const BOX = Symbol('clew.readerBox');

interface ReaderBox {
  reader: DirectReader | undefined;
}

/** Called with the bytes of one read; in onread mode they are valid only during the call. */
export type DirectReader = (data: Buffer) => void;

type ReaderSocket = net.Socket & { [READER]?: DirectReader | null; [BOX]?: ReaderBox };

/** One read to its reader, as one I/O turn. */
function deliver(reader: DirectReader, data: Buffer): void {
  enterTurn();
  try {
    reader(data);
  } finally {
    leaveTurn();
  }
}

export interface DirectConnectOptions {
  onread: { buffer: Buffer; callback: (n: number, buf: Buffer) => boolean };
  [BOX]: ReaderBox;
}

/**
 * `net.connect` options that read a socket into the shared buffer; the socket net.connect returns
 * is then passed to bindDirect(), and its reader set with setDirectReader().
 */
export function directConnectOptions(): DirectConnectOptions {
  const box: ReaderBox = { reader: undefined };
  return {
    onread: {
      buffer: READ_BUFFER,
      callback: (n: number, buf: Buffer): boolean => {
        const reader = box.reader;
        if (reader !== undefined) deliver(reader, buf.subarray(0, n));
        return true;
      },
    },
    [BOX]: box,
  };
}

/** Ties a socket to the onread options it was connected with (so setDirectReader finds them). */
export function bindDirect(socket: net.Socket, opts: DirectConnectOptions): net.Socket {
  (socket as ReaderSocket)[BOX] = opts[BOX];
  return socket;
}

/** 'data' listener of an accepted socket read by a codec (`this` is the socket). */
function onSocketData(this: ReaderSocket, chunk: Buffer): void {
  const reader = this[READER];
  if (reader !== null && reader !== undefined) deliver(reader, chunk);
}

/**
 * Hands each read of an accepted socket to `reader` from now on, as one I/O turn (also a socket
 * that was released before: a tunnelled connection served again). Bytes already buffered in its
 * Readable (the protocol sniffer puts the first chunk back) come as the socket flows again.
 */
export function readDirect(socket: net.Socket, reader: DirectReader): boolean {
  const s = socket as ReaderSocket;
  const had = s[READER];
  s[READER] = reader;
  if (had === undefined || had === null) socket.on('data', onSocketData);
  return true;
}

/**
 * The reader of a socket connected with directConnectOptions() and bindDirect(), or a new reader
 * for a socket read with readDirect (e.g. one that drops what comes).
 */
export function setDirectReader(socket: net.Socket, reader: DirectReader): void {
  const s = socket as ReaderSocket;
  const box = s[BOX];
  if (box !== undefined) box.reader = reader;
  else if (s[READER] !== undefined && s[READER] !== null) s[READER] = reader;
  else throw new Error('setDirectReader: socket not connected with directConnectOptions() nor read with readDirect()');
}

/** Kept for the codecs' call order: buffered bytes reach the reader through the socket's own flow. */
export function deliverBuffered(_socket: net.Socket): void {}

/** The socket leaves the codec: its reads go to whoever listens on it ('data', pipes). */
export function releaseDirect(socket: object): void {
  const s = socket as ReaderSocket;
  if (s[READER] === undefined || s[READER] === null) return;
  s[READER] = null;
  s.removeListener('data', onSocketData);
}

/**
 * Writes a latin1 string or a Buffer. True: the socket can take more at once; false: wait for
 * 'drain'. A write error destroys the socket (net's own handling).
 */
export function writeDirect(socket: net.Socket, data: string | Buffer): boolean {
  return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
}

/** Writes `head` (latin1) and `body` as one Buffer: one write, one syscall. */
export function writeDirectJoined(socket: net.Socket, head: string, body: Buffer): boolean {
  const n = head.length;
  const out = Buffer.allocUnsafe(n + body.length);
  out.write(head, 0, n, 'latin1');
  body.copy(out, n);
  return socket.write(out);
}
