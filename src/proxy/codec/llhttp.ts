/**
 * llhttp, the C parser under node:http, as WebAssembly: the build undici ships (lib/llhttp/, the
 * SIMD build where the engine has SIMD), driven through llhttp's own C API and its WebAssembly
 * callback imports (`wasm_on_*`, defined by llhttp's api.c for wasm builds). Clew's HTTP/1.1
 * codecs parse requests and responses with it, so parsing strictness (request smuggling shapes,
 * header syntax, chunk syntax) is llhttp's, in strict mode (no lenient flags), as in node:http.
 *
 * The surface is what the codecs used from node's binding: execute() returns the bytes parsed or
 * an error with llhttp's HPE_* code; a head's onHeadersComplete may return 1 (no body) or 2 (no
 * body, stop after the head as at an upgrade); trailers reach onHeaders at the end of the message;
 * `maxHeaderSize` is counted like node's (URL, status text, header names and values of one head)
 * and is HPE_HEADER_OVERFLOW. Body chunks handed to onBody are copies.
 *
 * One WebAssembly instance serves every parser: each execute() copies its bytes into the
 * instance's memory (a nested execute, from inside a callback, gets its own region), and the
 * callbacks find the JS parser through the one that is executing.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

export interface LlhttpError extends Error {
  code: string;
  reason?: string;
  bytesParsed?: number;
}

/** onHeadersComplete(versionMajor, versionMinor, headers, method, url, statusCode, statusMessage, upgrade, shouldKeepAlive) */
export type OnHeadersComplete = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: number | undefined,
  url: string | undefined,
  statusCode: number | undefined,
  statusMessage: string | undefined,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number | void;

export interface ParserCallbacks {
  onHeadersComplete: OnHeadersComplete;
  onBody(chunk: Buffer): void;
  onMessageComplete(): void;
  /** trailer fields, at the end of a chunked message (before onMessageComplete) */
  onHeaders?(headers: string[], url: string): void;
}

/** llhttp's C API and memory, as the WebAssembly module exports them */
interface LlhttpExports {
  memory: WebAssembly.Memory;
  _initialize?: () => void;
  malloc(n: number): number;
  free(p: number): void;
  llhttp_alloc(type: number): number;
  llhttp_free(p: number): void;
  llhttp_execute(p: number, data: number, len: number): number;
  llhttp_finish(p: number): number;
  llhttp_reset(p: number): void;
  llhttp_resume(p: number): void;
  llhttp_resume_after_upgrade(p: number): void;
  llhttp_get_http_major(p: number): number;
  llhttp_get_http_minor(p: number): number;
  llhttp_get_method(p: number): number;
  llhttp_get_upgrade(p: number): number;
  llhttp_get_error_pos(p: number): number;
  llhttp_get_error_reason(p: number): number;
  llhttp_set_error_reason(p: number, reason: number): void;
  llhttp_errno_name(err: number): number;
  llhttp_method_name(method: number): number;
}

/** llhttp_type_t */
const TYPE_REQUEST = 1;
const TYPE_RESPONSE = 2;
/** llhttp_errno_t values the wrapper looks at */
const HPE_OK = 0;
const HPE_PAUSED = 21;
const HPE_PAUSED_UPGRADE = 22;
const HPE_USER = 24;
/**
 * node:http's bound on chunk extensions (16 KiB per chunk, HPE_CHUNK_EXTENSIONS_OVERFLOW), kept
 * here as a bound on the bytes between two chunks' data (size line, extensions, CRLFs: the slack),
 * since llhttp's WebAssembly build has no chunk-extension callbacks.
 */
const MAX_CHUNK_FRAMING = 16 * 1024 + 64;
/** llhttp's method enum runs 0..46 (HTTP, RTSP and ICE methods) */
const METHOD_COUNT = 47;

/** The WebAssembly bytes from undici's package (found by its main file, so an exports map cannot hide them). */
function wasmModule(): WebAssembly.Module {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('undici')), 'lib', 'llhttp');
  try {
    return new WebAssembly.Module(require(path.join(dir, 'llhttp_simd-wasm.js')) as Uint8Array<ArrayBuffer>);
  } catch {
    // no WebAssembly SIMD here
    return new WebAssembly.Module(require(path.join(dir, 'llhttp-wasm.js')) as Uint8Array<ArrayBuffer>);
  }
}

/** The parser whose execute() or finish() is running (callbacks find it here). */
let current: Parser | null = null;
/** The bytes being parsed and where they sit in wasm memory: spans map back to offsets in `chunk`. */
let chunk: Buffer | null = null;
let chunkPtr = 0;

let ll: LlhttpExports | null = null;
/** a view of wasm memory, renewed when memory grows (growth detaches the old ArrayBuffer) */
let mem = new Uint8Array(0);
/** the input region of un-nested execute() calls */
let inPtr = 0;
let inSize = 0;
/** execute() calls under way (a callback may parse on another connection) */
let depth = 0;

/** method names by llhttp's method index (onHeadersComplete's `method` argument); filled with the instance */
export const METHODS: readonly string[] = [];
const errnoNames: string[] = [];

function view(): Uint8Array {
  const buf = ll!.memory.buffer;
  if (mem.buffer !== buf) mem = new Uint8Array(buf);
  return mem;
}

function cString(ptr: number): string {
  if (ptr === 0) return '';
  const m = view();
  let end = ptr;
  while (m[end] !== 0) end++;
  return Buffer.from(m.buffer, ptr, end - ptr).toString('latin1');
}

function instantiate(): LlhttpExports {
  const inst = new WebAssembly.Instance(wasmModule(), {
    env: {
      wasm_on_message_begin: onMessageBegin,
      wasm_on_url: onUrl,
      wasm_on_status: onStatus,
      wasm_on_header_field: onHeaderField,
      wasm_on_header_value: onHeaderValue,
      wasm_on_headers_complete: onHeadersComplete,
      wasm_on_body: onBody,
      wasm_on_message_complete: onMessageComplete,
    },
  });
  const e = inst.exports as unknown as LlhttpExports;
  e._initialize?.();
  return e;
}

ll = instantiate();
for (let i = 0; i < METHOD_COUNT; i++) (METHODS as string[]).push(cString(ll.llhttp_method_name(i)));

function errnoName(err: number): string {
  return (errnoNames[err] ??= cString(ll!.llhttp_errno_name(err)));
}

/**
 * Header text comes from one latin1 decode of a window of the bytes being parsed, cut with
 * substring (V8 copies short pieces and slices long ones): a decode per span would be a trip into
 * C++ per header name and value. Spans are handed out in order, so a window moves forward only.
 * The first window of a read is small and each next one twice as big: a read usually holds a
 * short head and then body bytes (a 1 KiB response: the 1 KiB first window decoded 870 bytes of
 * body nobody reads as text, a string per response for the scavenger to copy or drop), while a
 * long head still takes few decodes.
 */
const FIRST_WINDOW = 256;
const MAX_WINDOW = 4096;
let winText = '';
let winStart = 0;
let winEnd = 0;
let winSize = FIRST_WINDOW;

/** the text of span [at, at+len) of the bytes being parsed */
function spanText(at: number, len: number): string {
  const off = at - chunkPtr;
  const end = off + len;
  if (off < winStart || end > winEnd) {
    const c = chunk!;
    const size = winSize;
    if (size < MAX_WINDOW) winSize = size * 2;
    winStart = off;
    winEnd = Math.min(c.length, off + (len > size ? len : size));
    winText = c.toString('latin1', winStart, winEnd);
  }
  return winText.substring(off - winStart, end - winStart);
}

/** A new execute(): the window of the last one is void. */
function newWindow(): void {
  winText = '';
  winStart = 0;
  winEnd = 0;
  winSize = FIRST_WINDOW;
}

const enum Last {
  None,
  Field,
  Value,
}

class Parser {
  ptr: number;
  /** set while a response completes inside execute() (the client codec's unsolicited-bytes check) */
  onMessageBegin: (() => void) | undefined = undefined;
  /** header names and values of the head (or trailers) being read */
  fields: string[] = [];
  last = Last.None;
  url = '';
  status = '';
  headerBytes = 0;
  overflow = false;
  /** onHeadersComplete paused llhttp to learn where a body with Transfer-Encoding starts */
  headPause = false;
  /** counting the bytes between chunks' data (see MAX_CHUNK_FRAMING) */
  framingGuard = false;
  /** where the bytes since the last body data began in the current read, and those of earlier reads */
  gapStart = 0;
  gapCarried = 0;
  extOverflow = false;

  constructor(
    readonly type: number,
    readonly maxHeaderSize: number,
    readonly cb: ParserCallbacks,
  ) {
    this.ptr = ll!.llhttp_alloc(type);
    view();
    if (this.ptr === 0) throw new Error('llhttp: out of memory');
    leaks.register(this, this.ptr, this);
  }

  /** Parses `data` (valid only during the call). Bytes parsed, or a parse error. */
  execute(data: Buffer): number | LlhttpError {
    if (this.ptr === 0) return parseError('HPE_CLOSED_CONNECTION', 'parser freed', 0);
    if (this.extOverflow) return parseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'Chunk extensions overflow', 0);
    const e = ll!;
    const n = data.length;
    let at: number;
    if (depth === 0) {
      if (n > inSize) {
        if (inPtr !== 0) e.free(inPtr);
        inSize = Math.max(65536, Math.ceil(n / 65536) * 65536);
        inPtr = e.malloc(inSize);
        if (inPtr === 0) throw new Error('llhttp: out of memory');
      }
      at = inPtr;
    } else {
      at = e.malloc(n > 0 ? n : 1);
      if (at === 0) throw new Error('llhttp: out of memory');
    }
    view().set(data, at);
    const prevParser = current;
    const prevChunk = chunk;
    const prevPtr = chunkPtr;
    current = this;
    chunk = data;
    chunkPtr = at;
    newWindow();
    depth++;
    let err: number;
    try {
      err = e.llhttp_execute(this.ptr, at, n);
      while (err === HPE_PAUSED && this.headPause && this.ptr !== 0) {
        // the head of a message with Transfer-Encoding ended here: count framing bytes from here on
        this.headPause = false;
        const pos = e.llhttp_get_error_pos(this.ptr) - at;
        this.framingGuard = true;
        this.gapStart = pos;
        this.gapCarried = 0;
        e.llhttp_resume(this.ptr);
        err = e.llhttp_execute(this.ptr, at + pos, n - pos);
      }
    } finally {
      depth--;
      current = prevParser;
      chunk = prevChunk;
      chunkPtr = prevPtr;
      // a nested execute() ran on other bytes: the outer one decodes afresh
      newWindow();
      if (at !== inPtr) e.free(at);
    }
    if (err === HPE_OK) {
      if (this.framingGuard) {
        // still between chunks' data at the end of this read
        this.gapCarried += n - this.gapStart;
        this.gapStart = 0;
        if (this.gapCarried > MAX_CHUNK_FRAMING) {
          this.extOverflow = true;
          return parseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'Chunk extensions overflow', n);
        }
      }
      return n;
    }
    if (this.ptr === 0) return n;
    const parsed = e.llhttp_get_error_pos(this.ptr) - at;
    if (err === HPE_PAUSED_UPGRADE) {
      // not an error: the head asked to stop there (upgrade, or a body framed by the caller)
      e.llhttp_resume_after_upgrade(this.ptr);
      return parsed;
    }
    return this.error(err, parsed);
  }

  /** The connection ended: completes an EOF-delimited message, or the error of an unfinished one. */
  finish(): undefined | LlhttpError {
    if (this.ptr === 0) return undefined;
    const prevParser = current;
    current = this;
    let err: number;
    try {
      err = ll!.llhttp_finish(this.ptr);
    } finally {
      current = prevParser;
    }
    if (err === HPE_OK || err === HPE_PAUSED_UPGRADE || this.ptr === 0) return undefined;
    const r = this.error(err, 0);
    return typeof r === 'number' ? undefined : r;
  }

  private error(err: number, parsed: number): LlhttpError | number {
    const e = ll!;
    // as node's binding: no parse error while llhttp's upgrade flag is set (the caller resets)
    if (e.llhttp_get_upgrade(this.ptr) !== 0) return parsed;
    if (this.overflow) return parseError('HPE_HEADER_OVERFLOW', 'Header overflow', parsed);
    if (this.extOverflow) return parseError('HPE_CHUNK_EXTENSIONS_OVERFLOW', 'Chunk extensions overflow', parsed);
    const reason = cString(e.llhttp_get_error_reason(this.ptr));
    return parseError(err === HPE_USER ? 'HPE_USER' : errnoName(err), reason, parsed);
  }

  /** Back to the state after construction (type and callbacks kept). */
  reset(): void {
    if (this.ptr === 0) return;
    ll!.llhttp_reset(this.ptr);
    this.clearHead();
  }

  clearHead(): void {
    this.fields = [];
    this.last = Last.None;
    this.url = '';
    this.status = '';
    this.headerBytes = 0;
    this.overflow = false;
    this.headPause = false;
    this.framingGuard = false;
  }

  /** Releases the parser's memory (idempotent; also safe inside its own callbacks). */
  free(): void {
    const p = this.ptr;
    if (p === 0) return;
    this.ptr = 0;
    leaks.unregister(this);
    // freed inside its own execute(): llhttp is still using it; free once execute() returns
    if (current === this) queueMicrotask(() => ll!.llhttp_free(p));
    else ll!.llhttp_free(p);
  }

  /** node's header accounting: URL, status text, names and values of one head, against maxHeaderSize */
  track(len: number): number {
    this.headerBytes += len;
    if (this.headerBytes >= this.maxHeaderSize) {
      this.overflow = true;
      return -1;
    }
    return 0;
  }
}

function parseError(code: string, reason: string, bytesParsed: number): LlhttpError {
  return Object.assign(new Error(`Parse Error: ${reason}`), { code, reason, bytesParsed });
}

/** Parsers dropped without free() (a codec bug, or a test) give their wasm memory back on GC. */
const leaks = new FinalizationRegistry<number>((ptr) => {
  if (ptr !== 0 && ll !== null) ll.llhttp_free(ptr);
});

// ---- llhttp's callbacks (return 0 to go on, -1 to stop with an error)

function onMessageBegin(): number {
  const p = current!;
  p.clearHead();
  const fn = p.onMessageBegin;
  if (fn !== undefined) fn();
  return 0;
}

function onUrl(_p: number, at: number, len: number): number {
  const p = current!;
  if (p.track(len) !== 0) return -1;
  const s = spanText(at, len);
  p.url = p.url === '' ? s : p.url + s;
  return 0;
}

function onStatus(_p: number, at: number, len: number): number {
  const p = current!;
  if (p.track(len) !== 0) return -1;
  const s = spanText(at, len);
  p.status = p.status === '' ? s : p.status + s;
  return 0;
}

function onHeaderField(_p: number, at: number, len: number): number {
  const p = current!;
  // trailers: their bytes count against maxHeaderSize instead
  p.framingGuard = false;
  if (p.track(len) !== 0) return -1;
  const s = spanText(at, len);
  const f = p.fields;
  // a name split across reads arrives in pieces
  if (p.last === Last.Field) f[f.length - 1] += s;
  else {
    f.push(s);
    p.last = Last.Field;
  }
  return 0;
}

function onHeaderValue(_p: number, at: number, len: number): number {
  const p = current!;
  if (p.track(len) !== 0) return -1;
  const s = spanText(at, len);
  const f = p.fields;
  if (p.last === Last.Value) f[f.length - 1] += s;
  else {
    f.push(s);
    p.last = Last.Value;
  }
  return 0;
}

function onHeadersComplete(ptr: number, statusCode: number, upgrade: number, keepAlive: number): number {
  const p = current!;
  const e = ll!;
  const fields = p.fields;
  // a name with no value callback (an empty value at the end of the head)
  if (p.last === Last.Field) fields.push('');
  const isRequest = p.type === TYPE_REQUEST;
  const url = p.url;
  const status = p.status;
  p.fields = [];
  p.last = Last.None;
  p.url = '';
  p.status = '';
  p.headerBytes = 0;
  const r = p.cb.onHeadersComplete(
    e.llhttp_get_http_major(ptr),
    e.llhttp_get_http_minor(ptr),
    fields,
    isRequest ? e.llhttp_get_method(ptr) : undefined,
    isRequest ? url : undefined,
    isRequest ? undefined : statusCode,
    isRequest ? undefined : status,
    upgrade === 1,
    keepAlive === 1,
  );
  if ((r === 0 || r === undefined) && hasTransferEncoding(fields)) {
    // resumed as 0; execute() learns where the body starts (the chunk framing bound counts from there)
    p.headPause = true;
    return HPE_PAUSED;
  }
  return typeof r === 'number' ? r : 0;
}

function hasTransferEncoding(fields: string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) {
    const f = fields[i];
    if (f.length === 17 && f.toLowerCase() === 'transfer-encoding') return true;
  }
  return false;
}

function onBody(_p: number, at: number, len: number): number {
  const off = at - chunkPtr;
  const p = current!;
  if (p.framingGuard) {
    if (p.gapCarried + off - p.gapStart > MAX_CHUNK_FRAMING) {
      p.extOverflow = true;
      return -1;
    }
    p.gapStart = off + len;
    p.gapCarried = 0;
  }
  // a copy: the bytes being parsed are reused by the next read
  const out = Buffer.allocUnsafe(len);
  chunk!.copy(out, 0, off, off + len);
  p.cb.onBody(out);
  return 0;
}

function onMessageComplete(): number {
  const p = current!;
  p.framingGuard = false;
  if (p.fields.length > 0) {
    // trailers
    if (p.last === Last.Field) p.fields.push('');
    const t = p.fields;
    p.fields = [];
    p.last = Last.None;
    p.cb.onHeaders?.(t, '');
  }
  p.cb.onMessageComplete();
  return 0;
}

export type LlhttpParser = Parser;

/** A parser with its callbacks. */
export function newParser(type: 'request' | 'response', maxHeaderSize: number, cb: ParserCallbacks): LlhttpParser {
  return new Parser(type === 'request' ? TYPE_REQUEST : TYPE_RESPONSE, maxHeaderSize, cb);
}

/**
 * A parser back to its state after newParser(), callbacks kept. Needed after a head whose
 * onHeadersComplete returned 2: llhttp keeps its upgrade flag set until the next head completes,
 * and reports no parse error while that flag is set.
 */
export function resetParser(p: LlhttpParser, _type?: 'request' | 'response', _maxHeaderSize?: number): void {
  p.reset();
}
