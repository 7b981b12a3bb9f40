import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { METHODS, newParser, resetParser, type LlhttpParser } from '../../../src/proxy/codec/llhttp.js';
import { REPO_ROOT } from '../../helpers/paths.js';

type Event = unknown[];

/** Runs `input` through a fresh parser, cut at `cuts`; the events as the fixture records them. */
function run(type: 'request' | 'response', input: Buffer, cuts: number[], maxHeaderSize = 1000): Event[] {
  const ev: Event[] = [];
  const p = newParser(type, maxHeaderSize, {
    onHeadersComplete: (maj, min, h, m, url, st, msg, upg, ka) => {
      ev.push(['hc', maj, min, (h ?? []).join('|'), m ?? null, url ?? null, st ?? null, msg ?? null, upg, ka]);
      return 0;
    },
    onBody: (b) => ev.push(['b', b.toString('latin1')]),
    onMessageComplete: () => ev.push(['mc']),
    onHeaders: (h) => ev.push(['h', h.join('|')]),
  });
  let off = 0;
  let stopped = false;
  for (const c of [...cuts, input.length]) {
    if (c <= off) continue;
    const r = p.execute(input.subarray(off, c));
    if (typeof r !== 'number') {
      ev.push(['err', r.code]);
      stopped = true;
      break;
    }
    if (r !== c - off) {
      ev.push(['stop', off + r]);
      stopped = true;
      break;
    }
    off = c;
  }
  if (!stopped) {
    const f = p.finish();
    if (f) ev.push(['finish-err', f.code]);
  }
  p.free();
  // body pieces of a split input as one
  const out: Event[] = [];
  for (const e of ev) {
    const last = out[out.length - 1];
    if (e[0] === 'b' && last?.[0] === 'b') last[1] = (last[1] as string) + (e[1] as string);
    else out.push([...e]);
  }
  return out;
}

test('undici ships llhttp as WebAssembly with the imports and exports the wrapper uses', () => {
  const require = createRequire(import.meta.url);
  const dir = path.join(path.dirname(require.resolve('undici')), 'lib', 'llhttp');
  for (const file of ['llhttp_simd-wasm.js', 'llhttp-wasm.js']) {
    const mod = new WebAssembly.Module(require(path.join(dir, file)) as Uint8Array<ArrayBuffer>);
    const imports = WebAssembly.Module.imports(mod).map((i) => `${i.module}.${i.name}`).sort();
    assert.deepEqual(imports, [
      'env.wasm_on_body', 'env.wasm_on_header_field', 'env.wasm_on_header_value', 'env.wasm_on_headers_complete',
      'env.wasm_on_message_begin', 'env.wasm_on_message_complete', 'env.wasm_on_status', 'env.wasm_on_url',
    ], file);
    const exports = new Set(WebAssembly.Module.exports(mod).map((e) => e.name));
    for (const name of [
      'memory', 'malloc', 'free', 'llhttp_alloc', 'llhttp_free', 'llhttp_execute', 'llhttp_finish', 'llhttp_reset',
      'llhttp_resume_after_upgrade', 'llhttp_get_http_major', 'llhttp_get_http_minor', 'llhttp_get_method',
      'llhttp_get_upgrade', 'llhttp_get_error_pos', 'llhttp_get_error_reason', 'llhttp_errno_name', 'llhttp_method_name',
    ]) assert.ok(exports.has(name), `${file} exports ${name}`);
  }
  assert.equal(METHODS[1], 'GET');
  assert.equal(METHODS[5], 'CONNECT');
  assert.equal(METHODS[28], 'PATCH');
});

test('hostile and ordinary messages parse exactly as Node 20 node:http parsed them, whole and cut anywhere', () => {
  // recorded from Node 20's own llhttp binding (process.binding('http_parser')), the parser the
  // codecs used before: same heads, bodies, trailers, keep-alive verdicts and HPE_* codes
  const file = path.join(REPO_ROOT, 'test', 'fixtures', 'codec', 'llhttp-node20-outcomes.json');
  const cases = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<{ type: 'request' | 'response'; input: string; events: Event[] }>;
  assert.ok(cases.length > 60);
  const errors = new Set<string>();
  for (const c of cases) {
    const input = Buffer.from(c.input, 'latin1');
    for (const e of c.events) if (e[0] === 'err') errors.add(e[1] as string);
    assert.deepEqual(run(c.type, input, []), c.events, JSON.stringify(c.input));
    for (let i = 1; i < input.length; i++) assert.deepEqual(run(c.type, input, [i]), c.events, `${JSON.stringify(c.input)} cut at ${i}`);
  }
  // the smuggling shapes the corpus covers are rejected with llhttp's codes
  for (const code of ['HPE_INVALID_TRANSFER_ENCODING', 'HPE_UNEXPECTED_CONTENT_LENGTH', 'HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_CONTENT_LENGTH', 'HPE_INVALID_CHUNK_SIZE', 'HPE_CR_EXPECTED', 'HPE_LF_EXPECTED', 'HPE_INVALID_METHOD', 'HPE_INVALID_URL', 'HPE_INVALID_VERSION']) {
    assert.ok(errors.has(code), code);
  }
});

test('a head is cut into one-byte reads and still parses whole', () => {
  const head = Buffer.from('GET /a/long/path?with=query HTTP/1.1\r\nHost: example.test\r\nX-Long-Header-Name: a value well over a window\r\n\r\n');
  const cuts = Array.from({ length: head.length - 1 }, (_, i) => i + 1);
  assert.deepEqual(run('request', head, cuts), [
    ['hc', 1, 1, 'Host|example.test|X-Long-Header-Name|a value well over a window', 1, '/a/long/path?with=query', null, null, false, true],
    ['mc'],
  ]);
});

test('header text past the first 1 KiB of a read (several decode windows) is intact', () => {
  const fields: string[] = [];
  let text = 'GET / HTTP/1.1\r\n';
  for (let i = 0; i < 40; i++) {
    const v = `${i}-${'v'.repeat(90)}`;
    fields.push(`X-H${i}`, v);
    text += `X-H${i}: ${v}\r\n`;
  }
  const got = run('request', Buffer.from(`${text}\r\n`), [], 64 * 1024);
  assert.deepEqual(got[0], ['hc', 1, 1, fields.join('|'), 1, '/', null, null, false, true]);
});

test('maxHeaderSize counts URL, names and values like node:http: HPE_HEADER_OVERFLOW', () => {
  const ok = Buffer.from(`GET /${'a'.repeat(40)} HTTP/1.1\r\nH: v\r\n\r\n`);
  assert.equal(run('request', ok, [], 100).at(-1)?.[0], 'mc');
  const big = Buffer.from(`GET / HTTP/1.1\r\nH: ${'v'.repeat(200)}\r\n\r\n`);
  assert.deepEqual(run('request', big, [], 100), [['err', 'HPE_HEADER_OVERFLOW']]);
  // the same over many reads
  assert.deepEqual(run('request', big, [20, 40, 60, 80, 100, 120], 100), [['err', 'HPE_HEADER_OVERFLOW']]);
  // trailers have a budget of their own, as in node:http
  const chunked = Buffer.from(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nH: ${'v'.repeat(60)}\r\n\r\n0\r\nT: ${'t'.repeat(60)}\r\n\r\n`);
  assert.equal(run('request', chunked, [], 100).at(-1)?.[0], 'mc');
});

test('onHeadersComplete returning 2 stops at the end of the head; resetParser starts the next message', () => {
  const heads: unknown[] = [];
  let complete = 0;
  const p = newParser('response', 4096, {
    onHeadersComplete: (_a, _b, h, _m, _u, status) => {
      heads.push([status, h]);
      return heads.length === 1 ? 2 : 0;
    },
    onBody: () => undefined,
    onMessageComplete: () => complete++,
  });
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
  const bytes = Buffer.from(`${head}hello`);
  assert.equal(p.execute(bytes), head.length);
  resetParser(p);
  assert.equal(p.execute(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n')), 27);
  assert.deepEqual(heads, [[200, ['Content-Length', '5']], [204, []]]);
  // a malformed message after the reset is an error again
  const bad = p.execute(Buffer.from('HTTP/1.1 2000 OK\r\n\r\n'));
  assert.equal(typeof bad === 'number' ? bad : bad.code, 'HPE_INVALID_STATUS');
  p.free();
});

test('a parser can run inside another parser\'s callback (its bytes are its own)', () => {
  const inner: string[] = [];
  const innerParser = newParser('request', 4096, {
    onHeadersComplete: (_a, _b, h, _m, url) => void inner.push(`${url} ${(h ?? []).join('|')}`),
    onBody: () => undefined,
    onMessageComplete: () => undefined,
  });
  const outer: string[] = [];
  const outerParser = newParser('request', 4096, {
    onHeadersComplete: (_a, _b, h, _m, url) => {
      outer.push(`${url} ${(h ?? []).join('|')}`);
      innerParser.execute(Buffer.from('GET /inner HTTP/1.1\r\nX-Inner: 1\r\n\r\n'));
    },
    onBody: () => undefined,
    onMessageComplete: () => undefined,
  });
  const r = outerParser.execute(Buffer.from('GET /outer HTTP/1.1\r\nX-Outer: 1\r\n\r\nGET /second HTTP/1.1\r\nX-Second: 2\r\n\r\n'));
  assert.equal(typeof r, 'number');
  assert.deepEqual(outer, ['/outer X-Outer|1', '/second X-Second|2']);
  assert.deepEqual(inner, ['/inner X-Inner|1', '/inner X-Inner|1']);
  outerParser.free();
  innerParser.free();
});

test('body chunks are copies; free() is idempotent, allowed inside a callback, and later reads are refused', () => {
  const bodies: Buffer[] = [];
  let p: LlhttpParser | undefined;
  p = newParser('request', 4096, {
    onHeadersComplete: () => 0,
    onBody: (b) => bodies.push(b),
    onMessageComplete: () => p!.free(),
  });
  const input = Buffer.from('POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc');
  assert.equal(p.execute(input), input.length);
  input.fill(0x20);
  assert.equal(bodies[0].toString(), 'abc');
  p.free();
  const after = p.execute(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(typeof after === 'number' ? after : after.code, 'HPE_CLOSED_CONNECTION');
  assert.equal(p.finish(), undefined);
});

test('an exception in a callback reaches the caller of execute() and the next parser still works', () => {
  const p = newParser('request', 4096, {
    onHeadersComplete: () => {
      throw new Error('handler failed');
    },
    onBody: () => undefined,
    onMessageComplete: () => undefined,
  });
  assert.throws(() => p.execute(Buffer.from('GET / HTTP/1.1\r\n\r\n')), /handler failed/);
  p.free();
  assert.deepEqual(run('request', Buffer.from('GET /x HTTP/1.1\r\n\r\n'), []), [['hc', 1, 1, '', 1, '/x', null, null, false, true], ['mc']]);
});

test("chunk extensions are bounded as node:http bounds them (16 KiB per chunk): HPE_CHUNK_EXTENSIONS_OVERFLOW", () => {
  const head = 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
  const hc = ['hc', 1, 1, 'Host|a|Transfer-Encoding|chunked', 3, '/', null, null, false, true];
  const big = Buffer.from(`${head}5;${'e'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`);
  assert.deepEqual(run('request', big, [], 64 * 1024), [hc, ['err', 'HPE_CHUNK_EXTENSIONS_OVERFLOW']]);
  // in many reads, the head in the first
  const cuts = [head.length + 10, head.length + 5000, head.length + 12000, head.length + 17000];
  assert.deepEqual(run('request', big, cuts, 64 * 1024), [hc, ['err', 'HPE_CHUNK_EXTENSIONS_OVERFLOW']]);
  // after some data: the bound is per chunk
  const later = Buffer.from(`${head}3\r\nabc\r\n5;${'e'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`);
  assert.deepEqual(run('request', later, [], 64 * 1024), [hc, ['b', 'abc'], ['err', 'HPE_CHUNK_EXTENSIONS_OVERFLOW']]);
  // under the bound, in every chunk, and large trailers (counted against maxHeaderSize instead): fine
  const ext = `;${'e'.repeat(16_000)}`;
  const ok = Buffer.from(`${head}3${ext}\r\nabc\r\n2${ext}\r\nde\r\n0\r\nX-T: ${'t'.repeat(30_000)}\r\n\r\n`);
  assert.deepEqual(run('request', ok, [], 64 * 1024), [hc, ['b', 'abcde'], ['h', `X-T|${'t'.repeat(30_000)}`], ['mc']]);
  assert.deepEqual(run('request', ok, [head.length + 7000, head.length + 16010], 64 * 1024), [hc, ['b', 'abcde'], ['h', `X-T|${'t'.repeat(30_000)}`], ['mc']]);
});
