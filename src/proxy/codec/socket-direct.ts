/**
 * Direct socket I/O for Clew's HTTP/1.1 codecs, on a net.Socket's native TCP handle.
 *
 * Reads: net's `onread` mode (one shared buffer, a callback per read, no Readable, no
 * 'data' event, no maybeReadMore tick), also for sockets accepted by a server, which net offers
 * only for sockets it connects itself. Each read is an I/O turn (io-turn.ts). A reader sees the
 * bytes only during its call: the buffer is reused by the next read. When a socket leaves the
 * codec (upgrade, CONNECT), `releaseDirect` turns it into a plain Readable again: later reads are
 * copied and pushed, so pipes, 'data' listeners and pause/resume work as on any socket.
 *
 * Writes: straight to the handle (WriteWrap + writeLatin1String / writeBuffer, what net does
 * underneath) when nothing is queued in the socket's Writable, skipping the Writable machinery
 * and its per-write tick. A write the kernel does not take at once stays queued in libuv, which
 * keeps write order; its completion emits 'drain'. Otherwise (connecting, corked, bytes buffered
 * in the Writable) the write goes through socket.write, behind what is queued.
 *
 * Written against Node 20's net internals (the engines field pins it): the onread symbols are
 * found on a probe socket by their descriptions; without them, or without a native handle (a
 * JS Duplex), everything falls back to the socket's public API.
 */
import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { legacyBinding } from './legacy-binding.js';
import { enterTurn, leaveTurn } from './io-turn.js';

interface NativeHandle {
  isStreamBase?: boolean;
  reading: boolean;
  readonly writeQueueSize: number;
  useUserBuffer(buf: Uint8Array): void;
  writeLatin1String(req: WriteReq, s: string): number;
  writeBuffer(req: WriteReq, b: Uint8Array): number;
}

interface WriteReq {
  handle: NativeHandle;
  oncomplete: (status: number) => void;
  async: boolean;
  bytes: number;
  buffer: unknown;
  socket: net.Socket | null;
}

interface StreamWrap {
  WriteWrap: new () => WriteReq;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
  kReadBytesOrError: number;
}

const sw = legacyBinding<StreamWrap>('stream_wrap');
const { WriteWrap, streamBaseState, kLastWriteWasAsync, kReadBytesOrError } = sw;

/** net.Socket's private onread slots (kBuffer, kBufferCb, kBufferGen), by description */
const SLOTS = ((): { buffer: symbol; cb: symbol; gen: symbol } | undefined => {
  const probe = new net.Socket();
  const syms = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  const find = (d: string) => syms.find((s) => s.description === d);
  const buffer = find('kBuffer');
  const cb = find('kBufferCb');
  const gen = find('kBufferGen');
  return buffer && cb && gen ? { buffer, cb, gen } : undefined;
})();

/** The read buffer of every direct socket: each read is handled before the next one lands. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** on a socket: its direct reader, or null once released to its Readable */
const READER = Symbol('clew.directReader');
/** on the native handle: the same reader (handles share one shape: the read path stays monomorphic) */
const HANDLE_READER = Symbol('clew.handleReader');

/** Called with the bytes of one read, valid only during the call. */
export type DirectReader = (data: Buffer) => void;

type DirectHandle = NativeHandle & { onread: (this: DirectHandle, ab?: unknown) => unknown; [HANDLE_READER]?: DirectReader };
type DirectSocket = net.Socket & { [READER]?: DirectReader | null; _handle?: DirectHandle | null } & Record<symbol, unknown>;

/** node's own onread of stream handles (stream_base_commons' onStreamRead), taken from the first one */
let nodeOnRead: ((this: DirectHandle, ab?: unknown) => unknown) | undefined;

/** One read to its reader, as one I/O turn. */
function deliver(reader: DirectReader, data: Buffer): void {
  enterTurn();
  try {
    reader(data);
  } finally {
    leaveTurn();
  }
}

/**
 * The handle's onread while a reader owns the socket: node's C++ calls it per read with the
 * byte count in streamBaseState. Data goes straight to the reader, in one I/O turn; EOF and
 * errors take node's own path ('end', 'close', destroy).
 */
function onHandleRead(this: DirectHandle, ab?: unknown): unknown {
  const n = streamBaseState[kReadBytesOrError];
  if (n > 0) {
    deliver(this[HANDLE_READER]!, READ_BUFFER.subarray(0, n));
    return undefined;
  }
  if (n === 0) return undefined;
  return nodeOnRead!.call(this, ab);
}

/**
 * net's onread callback (`this` is the socket), used once a socket is released: the copy of
 * each read is pushed to its Readable (false stops reading until the consumer drains it).
 */
function onReleasedRead(this: DirectSocket, n: number, buf: Buffer): boolean {
  const reader = this[READER];
  if (reader !== null && reader !== undefined) {
    // a reader that this handle was not attached to: net.connect replaced the handle (its
    // happy-eyeballs attempt moved to the next address); deliver, and take the fast path from now
    const h = nativeHandle(this);
    if (h) attach(this, h, reader);
    deliver(reader, buf.subarray(0, n));
    return true;
  }
  return this.push(Buffer.from(buf.subarray(0, n)));
}

/**
 * TLS sockets (transport sockets, src/proxy/transport) are bypassed on purpose: their handle is a
 * TLSWrap, a StreamBase too, but reading or writing it directly would skip node's handshake
 * bookkeeping. They go through the socket's public Readable/Writable (the codecs' fallback).
 */
function isTls(socket: net.Socket): boolean {
  return (socket as { encrypted?: boolean }).encrypted === true;
}

function nativeHandle(socket: net.Socket): DirectHandle | undefined {
  if (isTls(socket)) return undefined;
  const h = (socket as DirectSocket)._handle;
  return h && h.isStreamBase && typeof h.useUserBuffer === 'function' ? h : undefined;
}

function attach(s: DirectSocket, h: DirectHandle, reader: DirectReader): void {
  if (nodeOnRead === undefined && h.onread !== onHandleRead) nodeOnRead = h.onread;
  s[READER] = reader;
  h[HANDLE_READER] = reader;
  h.onread = onHandleRead;
}

/**
 * `net.connect` options that read a client socket into the shared buffer from the start; the
 * reader is set with `setDirectReader` right after net.connect() returns.
 */
export function directConnectOptions(): { onread: { buffer: Buffer; callback: (n: number, buf: Buffer) => boolean } } {
  return { onread: { buffer: READ_BUFFER, callback: onReleasedRead as unknown as (n: number, buf: Buffer) => boolean } };
}

/** The reader of a socket made with directConnectOptions() (or read directly already). */
export function setDirectReader(socket: net.Socket, reader: DirectReader): void {
  const s = socket as DirectSocket;
  const h = nativeHandle(socket);
  if (h) attach(s, h, reader);
  else s[READER] = reader;
}

/**
 * Reads an accepted socket directly from now on (also one that was direct before and was
 * released: a tunnelled connection served again). Returns false when the socket cannot be read
 * directly (no native handle): the caller uses 'data' events. Bytes already buffered in its
 * Readable (the protocol sniffer puts the first chunk back) are not delivered here: the caller
 * calls deliverBuffered() once it is ready for them.
 */
export function readDirect(socket: net.Socket, reader: DirectReader): boolean {
  const s = socket as DirectSocket;
  const h = nativeHandle(socket);
  if (!h || !SLOTS || socket.destroyed) return false;
  if (s[READER] === undefined) {
    // net's onread mode (kept once released), reading into the shared buffer
    s[SLOTS.buffer] = READ_BUFFER;
    s[SLOTS.cb] = onReleasedRead;
    s[SLOTS.gen] = null;
    h.useUserBuffer(READ_BUFFER);
  }
  attach(s, h, reader);
  return true;
}

/** Hands what the socket's Readable holds to its direct reader, in one I/O turn. */
export function deliverBuffered(socket: net.Socket): void {
  const s = socket as DirectSocket;
  const reader = s[READER];
  if (reader === null || reader === undefined || s.readableLength === 0) return;
  enterTurn();
  try {
    for (let c = s.read() as Buffer | null; c !== null; c = s.read() as Buffer | null) {
      reader(c);
      if (s[READER] !== reader) {
        // the reader let go of the socket (hand-over) inside: what is left stays buffered
        break;
      }
    }
  } finally {
    leaveTurn();
  }
}

/** The socket leaves the codec: later reads are pushed to its Readable (pipes, 'data', pause). */
export function releaseDirect(socket: object): void {
  const s = socket as DirectSocket;
  if (s[READER] === undefined) return;
  s[READER] = null;
  const h = s._handle;
  if (h && nodeOnRead !== undefined) {
    h.onread = nodeOnRead;
    h[HANDLE_READER] = undefined;
  }
}

export function isDirect(socket: unknown): boolean {
  return (socket as DirectSocket)?.[READER] !== undefined;
}

function onDirectWriteComplete(this: WriteReq, status: number): void {
  const socket = this.socket;
  this.socket = null;
  this.buffer = null;
  if (socket === null || socket.destroyed) return;
  if (status < 0) {
    socket.destroy(errnoError(status, 'write'));
    return;
  }
  if (this.handle.writeQueueSize === 0) socket.emit('drain');
}

function errnoError(errno: number, syscall: string): Error {
  const code = getSystemErrorName(errno);
  return Object.assign(new Error(`${syscall} ${code}`), { errno, code, syscall });
}

/**
 * Writes a latin1 string or a Buffer. True: the kernel took it all; false: part of it waits in
 * libuv (or the socket's Writable), 'drain' follows. A write error destroys the socket.
 */
export function writeDirect(socket: net.Socket, data: string | Buffer): boolean {
  const s = socket as DirectSocket;
  const h = s._handle;
  if (h === null || h === undefined || s.connecting || s.destroyed || s.writableLength !== 0 || s.writableCorked !== 0 || s.writableEnded || !h.isStreamBase || isTls(s)) {
    return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
  }
  const req = new WriteWrap();
  req.handle = h;
  req.oncomplete = onDirectWriteComplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.socket = null;
  const err = typeof data === 'string' ? h.writeLatin1String(req, data) : h.writeBuffer(req, data);
  if (err !== 0) {
    socket.destroy(errnoError(err, 'write'));
    return false;
  }
  if (streamBaseState[kLastWriteWasAsync] === 0) return true;
  // the rest is queued in libuv: keep the bytes alive and hear of the completion
  req.async = true;
  req.buffer = data;
  req.socket = socket;
  return false;
}

/** Buffer's own latin1 writer (what buf.write(s, o, n, 'latin1') dispatches to) */
interface Latin1Writable {
  latin1Write(s: string, offset: number, length: number): number;
}

/** Writes `head` (latin1) and `body` as one Buffer: one syscall, no writev storage. */
export function writeDirectJoined(socket: net.Socket, head: string, body: Buffer): boolean {
  const n = head.length;
  const out = Buffer.allocUnsafe(n + body.length);
  (out as unknown as Latin1Writable).latin1Write(head, 0, n);
  body.copy(out, n);
  return writeDirect(socket, out);
}
