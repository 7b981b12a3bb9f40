/**
 * Inputs for the HTTP codec fuzz target: byte mutations of seed messages, well-formed HTTP/1.1
 * requests and responses with every framing, and HTTP/2 frame sequences (after the client
 * preface) built from a small frame and HPACK-literal encoder.
 */
import fc from 'fast-check';

/** One edit of a byte string: what radamsa-style mutators do, in the small. */
export type Mutation =
  | { op: 'flip'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; len: number }
  | { op: 'repeat'; at: number; len: number; times: number }
  | { op: 'cut'; at: number };

/** bytes that matter to HTTP framing, more likely than others */
const SPECIAL = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x30, 0x2d, 0x00, 0x7f, 0xff, 0x22, 0x0b, 0x2f, 0x25, 0x2e];
const byteArb = fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 }));

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: byteArb }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.array(byteArb, { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 32 }), times: fc.integer({ min: 2, max: 64 }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
);

export function mutate(input: Buffer, edits: Mutation[]): Buffer {
  let b = input;
  for (const m of edits) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case 'flip':
        if (b.length > 0) {
          b = Buffer.from(b);
          b[at % b.length] = m.byte;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'repeat': {
        const part = b.subarray(at, at + m.len);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: m.times }, () => part), b.subarray(at)]);
        break;
      }
      case 'cut':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** writes split at these offsets (a message may arrive in several reads) */
export const splitsArb = fc.array(fc.nat(), { maxLength: 3 });

export function split(b: Buffer, at: number[]): Buffer[] {
  const cuts = [...new Set(at.map((n) => (b.length === 0 ? 0 : n % b.length)))].filter((n) => n > 0).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of cuts) {
    out.push(b.subarray(from, c));
    from = c;
  }
  out.push(b.subarray(from));
  return out;
}

const tchar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_!#$%&\'*+.^`|~'.split(''));
const headerName = fc.string({ unit: tchar, minLength: 1, maxLength: 16 }).filter((n) => !/^(host|content-length|transfer-encoding|connection|upgrade|te|keep-alive|proxy-connection|expect|trailer|x-envoy-.*|x-forwarded-.*|x-request-id|:.*)$/i.test(n));
const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const headerValue = fc.string({ unit: fc.oneof(vchar, fc.constant(' ')), maxLength: 40 }).map((v) => v.trim());
const pathArb = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-._~'.split('')), maxLength: 20 }).map((p) => `/echo/${p}`);

export type Framing = 'length' | 'chunked' | 'none';

/** A well-formed request: method, target, extra headers, body and its framing. */
export interface WellFormedRequest {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: Buffer;
  framing: Framing;
  chunks: number[];
}

export const requestArb: fc.Arbitrary<WellFormedRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    path: pathArb,
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    body: fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
    framing: fc.constantFrom<Framing>('length', 'chunked', 'none'),
    chunks: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }),
  })
  .map((r) => (r.framing === 'none' ? { ...r, body: Buffer.alloc(0) } : r));

function chunked(body: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const s of [...sizes, body.length]) {
    if (at >= body.length) break;
    const piece = body.subarray(at, at + s);
    at += piece.length;
    parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`, 'latin1'), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

export function encodeRequest(r: WellFormedRequest, authority: string): Buffer {
  let head = `${r.method} ${r.path} HTTP/1.1\r\nHost: ${authority}\r\n`;
  for (const [n, v] of r.headers) head += `${n}: ${v}\r\n`;
  if (r.framing === 'length') head += `Content-Length: ${r.body.length}\r\n`;
  if (r.framing === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  head += '\r\n';
  const body = r.framing === 'chunked' ? chunked(r.body, r.chunks) : r.body;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** A well-formed upstream response. `close`: delimited by the end of the connection. */
export interface WellFormedResponse {
  status: number;
  headers: Array<[string, string]>;
  body: Buffer;
  framing: 'length' | 'chunked' | 'close';
  chunks: number[];
}

export const responseArb: fc.Arbitrary<WellFormedResponse> = fc
  .record({
    status: fc.oneof(fc.constantFrom(200, 201, 204, 301, 304, 400, 404, 500, 503), fc.integer({ min: 200, max: 599 })),
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    body: fc.uint8Array({ maxLength: 3000 }).map((u) => Buffer.from(u)),
    framing: fc.constantFrom<'length' | 'chunked' | 'close'>('length', 'chunked', 'close'),
    chunks: fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }),
  })
  // 204 and 304 have no body whatever the framing says
  .map((r) => (r.status === 204 || r.status === 304 ? { ...r, body: Buffer.alloc(0), framing: 'length' as const } : r));

export function encodeResponse(r: WellFormedResponse): Buffer {
  let head = `HTTP/1.1 ${r.status} X\r\n`;
  for (const [n, v] of r.headers) head += `${n}: ${v}\r\n`;
  if (r.framing === 'length' && r.status !== 204 && r.status !== 304) head += `Content-Length: ${r.body.length}\r\n`;
  if (r.framing === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  if (r.framing === 'close') head += 'Connection: close\r\n';
  head += '\r\n';
  const body = r.framing === 'chunked' ? chunked(r.body, r.chunks) : r.body;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

// ---- HTTP/2 --------------------------------------------------------------------------------

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK "literal header field without indexing, new name" (lengths < 127, no Huffman) */
export function hpackLiterals(headers: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of headers) {
    const nb = Buffer.from(n, 'latin1').subarray(0, 126);
    const vb = Buffer.from(v, 'latin1').subarray(0, 126);
    parts.push(Buffer.from([0x00, nb.length]), nb, Buffer.from([vb.length]), vb);
  }
  return Buffer.concat(parts);
}

const h2Stream = fc.oneof(fc.constantFrom(0, 1, 3, 5, 2), fc.nat({ max: 0x7fffffff }));
const h2Payload = fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u));

/** one frame: a request HEADERS (sometimes odd), DATA, SETTINGS, WINDOW_UPDATE, RST, PING, PRIORITY, GOAWAY, CONTINUATION, unknown */
export const h2FrameArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({
      stream: h2Stream,
      flags: fc.constantFrom(0x4, 0x5, 0x0, 0x1, 0x24, 0x8),
      method: fc.constantFrom('GET', 'POST', 'CONNECT', ''),
      path: fc.oneof(pathArb, fc.constantFrom('', '*', 'http://x/', '/a b')),
      extra: fc.array(fc.tuple(fc.oneof(headerName, fc.constantFrom('Upper', 'connection', 'te', ':bogus', 'transfer-encoding', 'content-length')), headerValue), { maxLength: 4 }),
    })
    .map((h) => {
      const hs: Array<[string, string]> = [[':method', h.method], [':scheme', 'http'], [':path', h.path], [':authority', 'fz'], ...h.extra];
      return frame(0x1, h.flags, h.stream, hpackLiterals(hs));
    }),
  fc.record({ stream: h2Stream, flags: fc.constantFrom(0, 1, 8), payload: h2Payload }).map((d) => frame(0x0, d.flags, d.stream, d.payload)),
  fc.record({ flags: fc.constantFrom(0, 1), id: fc.integer({ min: 0, max: 10 }), value: fc.nat({ max: 0xffffffff }) }).map((s) => {
    const p = Buffer.alloc(6);
    p.writeUInt16BE(s.id, 0);
    p.writeUInt32BE(s.value, 2);
    return frame(0x4, s.flags, 0, s.flags === 1 ? Buffer.alloc(0) : p);
  }),
  fc.record({ stream: h2Stream, inc: fc.nat({ max: 0x7fffffff }) }).map((w) => {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(w.inc, 0);
    return frame(0x8, 0, w.stream, p);
  }),
  fc.record({ stream: h2Stream, code: fc.nat({ max: 20 }) }).map((r) => {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(r.code, 0);
    return frame(0x3, 0, r.stream, p);
  }),
  fc.record({ type: fc.constantFrom(0x2, 0x5, 0x6, 0x7, 0x9, 0xa, 0xf0), flags: fc.nat({ max: 255 }), stream: h2Stream, payload: h2Payload }).map((f) =>
    frame(f.type, f.flags, f.stream, f.payload),
  ),
);

/** a client preface, a SETTINGS frame, then frames (the server's handshake is done) */
export function h2Connection(frames: Buffer[]): Buffer {
  return Buffer.concat([H2_PREFACE, frame(0x4, 0, 0, Buffer.alloc(0)), ...frames]);
}
