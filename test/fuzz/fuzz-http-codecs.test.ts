/**
 * Fuzz target of the proxy's HTTP codecs, through a real in-process proxy on loopback: the
 * HTTP/1.1 server codec (request framing), the HTTP/1.1 client codec (upstream response framing)
 * and the HTTP/2 server path (prior-knowledge h2c on the same listener). Properties:
 *  - a well-formed request (any method, headers, body with Content-Length, chunked or none,
 *    pipelined, split across reads) reaches the upstream with exactly its method, target and
 *    body, and every one is answered in order;
 *  - a well-formed upstream response (any status, Content-Length, chunked or close-delimited)
 *    reaches the client with its status and body unchanged;
 *  - any bytes (mutations of the corpus, the hostile-input cases and generated messages) sent
 *    by a client that then closes its side end in an answer or a close within the hang limit;
 *    a mutated upstream response ends in an answer or a close once the upstream closed; random
 *    HTTP/2 frame sequences (and mutations) end in a closed session (a short
 *    connection_keepalive on that listener closes sessions nghttp2 gave up on); what comes back
 *    is HTTP; nothing ends the process, and the proxy still serves normal HTTP/1.1 and HTTP/2
 *    requests afterwards. The event loop's longest stall is reported with the input count.
 * Corpus: test/fuzz/corpus/http-codecs.txt (one JSON object per line: {kind: request | response
 * | h2, note, text (latin1) | hex}), replayed every run and used as mutation seeds. Parameters
 * and the long run: fuzz-params.ts (CLEW_FUZZ_SECONDS is the whole target's time, shared by its
 * five properties): CLEW_FUZZ_SECONDS=600 node --test dist/test/fuzz/fuzz-http-codecs.test.js
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { loadCorpus } from './fuzz-runner.js';
import { ALL_CASES } from '../proxy/hostile/hostile-cases.js';
import { boundHttpListener, route, routeConfig, staticCluster, vhost } from '../proxy/helpers/resources.js';
import { httpRequest, startHarness, type Harness } from '../proxy/helpers/harness.js';
import { fuzzParams, FuzzStats } from './fuzz-params.js';
import {
  encodeRequest, encodeResponse, H2_PREFACE, h2Connection, h2FrameArb, mutate, mutationArb, requestArb, responseArb, split, splitsArb,
  type WellFormedRequest,
} from './http-bytes.js';

const AUTHORITY = 'fz';
const PROPERTIES = 5;
const LONG = Number(process.env.CLEW_FUZZ_SECONDS ?? 0) > 0;
/**
 * after the input, the proxy must answer or close within this much wall time (the machine these
 * run on is shared: a core can be away for a while); the event loop's longest stall, the proxy's
 * own hang measure, is reported with the long run
 */
const HANG_MS = LONG ? 3000 : 5000;

/** inputs per property, for the long run's report */
async function counted(name: string, run: () => Promise<void>): Promise<void> {
  const before = stats.inputs;
  const t0 = Date.now();
  try {
    await run();
  } finally {
    if (LONG) process.stderr.write(`fuzz http-codecs / ${name}: ${stats.inputs - before} inputs in ${Math.round((Date.now() - t0) / 1000)} s\n`);
  }
}

interface CorpusEntry { kind: 'request' | 'response' | 'h2'; note: string; bytes: Buffer }
const corpus: CorpusEntry[] = loadCorpus('http-codecs').map((v) => {
  const j = v as { kind: CorpusEntry['kind']; note?: string; text?: string; hex?: string };
  return { kind: j.kind, note: j.note ?? '', bytes: j.hex !== undefined ? Buffer.from(j.hex, 'hex') : Buffer.from(j.text ?? '', 'latin1') };
});

/** the property's share of a long run, else the seeded CI run's input count */
function params(ciRuns: number) {
  const p = fuzzParams(ciRuns);
  if (p.interruptAfterTimeLimit !== undefined) p.interruptAfterTimeLimit = Math.floor(p.interruptAfterTimeLimit / PROPERTIES);
  return p;
}

let h: Harness;
let good: http.Server;
let raw: net.Server;
let port = 0;
/** a listener whose HTTP/2 sessions are probed after 100 ms idle (closed 200 ms after an unanswered PING) */
let h2Port = 0;
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
/** what the raw upstream answers to GET /r/<id> */
const responses = new Map<string, Buffer>();
let nextId = 0;
const stats = new FuzzStats();

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex').slice(0, 16);

before(async () => {
  good = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.end(`${req.method} ${req.url} ${body.length} ${digest(body)}`);
    });
  });
  good.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((r) => good.listen(0, '127.0.0.1', () => r()));
  raw = net.createServer((s) => {
    s.on('error', () => undefined);
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      const id = /^GET \/r\/(\d+) /.exec(head)?.[1];
      const answer = id === undefined ? undefined : responses.get(id);
      if (answer === undefined) s.destroy();
      else s.end(answer);
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
  h = await startHarness({
    clusters: [staticCluster('good', [['127.0.0.1', (good.address() as net.AddressInfo).port]]), staticCluster('raw', [['127.0.0.1', (raw.address() as net.AddressInfo).port]])],
    listeners: [
      boundHttpListener('fz', '127.0.0.1', 0, 'fz'),
      boundHttpListener('fz2', '127.0.0.1', 0, 'fz', undefined, { http2_protocol_options: { connection_keepalive: { interval: { nanos: 100_000_000 }, timeout: { nanos: 200_000_000 } } } }),
    ],
    routes: [routeConfig('fz', [vhost('all', ['*'], [route({ prefix: '/r/' }, 'raw'), route({ prefix: '/' }, 'good')])])],
  });
  port = h.proxy.listenerPort('fz')!;
  h2Port = h.proxy.listenerPort('fz2')!;
  loopDelay.enable();
});

after(async () => {
  loopDelay.disable();
  stats.report('http-codecs');
  if (LONG) process.stderr.write(`fuzz http-codecs: longest event-loop stall ${(loopDelay.max / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms\n`);
  await h?.close();
  good?.closeAllConnections();
  good?.close();
  raw?.close();
});

interface ExchangeOpts {
  /** close our side after the last part (a client that is done) */
  fin: boolean;
  /** the answer is complete (the connection may stay open: keep-alive) */
  complete?: (bytes: Buffer) => boolean;
  to?: number;
}

/**
 * Writes the parts (a tick apart) and waits until the proxy closes the connection or the answer
 * is complete; resolves with the bytes received and how long that took after the last part.
 */
function exchange(parts: Buffer[], o: ExchangeOpts): Promise<{ bytes: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(o.to ?? port, '127.0.0.1');
    const got: Buffer[] = [];
    let sentAt = 0;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ bytes: Buffer.concat(got), ms: sentAt === 0 ? 0 : performance.now() - sentAt });
    };
    const timer = setTimeout(() => {
      settled = true;
      s.destroy();
      reject(new Error(`no complete answer and no close ${HANG_MS + 10_000} ms after the input; received ${JSON.stringify(Buffer.concat(got).toString('latin1').slice(0, 300))}`));
    }, HANG_MS + 10_000);
    s.on('data', (d: Buffer) => {
      got.push(d);
      if (sentAt > 0 && o.complete?.(Buffer.concat(got))) finish();
    });
    s.on('error', () => undefined);
    s.on('close', finish);
    s.on('connect', () => {
      void (async () => {
        for (const p of parts) {
          if (s.destroyed) return;
          s.write(p);
          await new Promise((r) => setImmediate(r));
        }
        sentAt = performance.now();
        if (o.complete?.(Buffer.concat(got))) return finish();
        if (o.fin && !s.destroyed) s.end();
      })();
    });
  });
}

async function timedExchange(parts: Buffer[], o: ExchangeOpts): Promise<Buffer> {
  const t0 = performance.now();
  const r = await exchange(parts, o);
  const ms = performance.now() - t0;
  stats.inputs++;
  if (ms > stats.slowestMs) stats.slowestMs = ms;
  assert.ok(r.ms <= HANG_MS, `the proxy took ${r.ms.toFixed(0)} ms to answer or close after the input`);
  return r.bytes;
}

/** complete when `n` whole responses parse out of the bytes */
const responsesComplete = (n: number) => (b: Buffer): boolean => {
  try {
    return parseResponses(b, false).length >= n;
  } catch {
    return false;
  }
};

interface ParsedResponse { status: number; body: Buffer }

class Incomplete extends Error {}

/**
 * Splits the proxy's answers (Content-Length, chunked or close-delimited framing; a 1xx has no
 * body). `atClose`: the connection has ended (a close-delimited body is whole); else a response
 * not yet whole throws Incomplete.
 */
function parseResponses(b: Buffer, atClose = true): ParsedResponse[] {
  const out: ParsedResponse[] = [];
  let at = 0;
  while (at < b.length) {
    const end = b.indexOf('\r\n\r\n', at);
    if (end < 0 && !atClose) throw new Incomplete();
    assert.ok(end > 0, `an incomplete response head: ${JSON.stringify(b.subarray(at, at + 200).toString('latin1'))}`);
    const head = b.subarray(at, end).toString('latin1');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
    assert.ok(m, `not an HTTP/1.1 status line: ${JSON.stringify(head.slice(0, 200))}`);
    const status = Number(m[1]);
    at = end + 4;
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (status < 200 || status === 204 || status === 304) {
      if (status >= 200) out.push({ status, body: Buffer.alloc(0) });
      continue;
    }
    if (cl) {
      if (at + Number(cl[1]) > b.length && !atClose) throw new Incomplete();
      out.push({ status, body: b.subarray(at, at + Number(cl[1])) });
      at += Number(cl[1]);
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const parts: Buffer[] = [];
      for (;;) {
        const le = b.indexOf('\r\n', at);
        if (le < 0 && !atClose) throw new Incomplete();
        assert.ok(le > 0, 'an incomplete chunk');
        const size = parseInt(b.subarray(at, le).toString('latin1'), 16);
        at = le + 2;
        if (size === 0) {
          const te = b.indexOf('\r\n\r\n', at - 2);
          if (te < 0 && !atClose) throw new Incomplete();
          at = te + 4;
          break;
        }
        if (at + size + 2 > b.length && !atClose) throw new Incomplete();
        parts.push(b.subarray(at, at + size));
        at += size + 2;
      }
      out.push({ status, body: Buffer.concat(parts) });
    } else {
      if (!atClose) throw new Incomplete();
      out.push({ status, body: b.subarray(at) });
      at = b.length;
    }
  }
  return out;
}

let sinceCheck = 0;
/** every few inputs, and at the end: normal HTTP/1.1 and HTTP/2 requests are still served */
async function stillServes(force = false): Promise<void> {
  if (!force && ++sinceCheck < 25) return;
  sinceCheck = 0;
  const r = await httpRequest({ port, path: '/echo/alive', host: AUTHORITY });
  assert.equal(r.status, 200, `after fuzz inputs, a normal request got ${r.status} ${r.body}`);
  assert.equal(r.body, `GET /echo/alive 0 ${digest(Buffer.alloc(0))}`);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/echo/alive-h2', ':authority': AUTHORITY });
      req.on('response', (hs) => resolve(Number(hs[':status'])));
      req.on('error', reject);
      req.resume();
      req.end();
    });
    assert.equal(status, 200, 'after fuzz inputs, a normal HTTP/2 request failed');
  } finally {
    session.destroy();
  }
}

function checkAnswer(bytes: Buffer): void {
  if (bytes.length === 0) return; // closed or reset without an answer
  assert.match(bytes.subarray(0, 12).toString('latin1'), /^HTTP\/1\.1 [1-5]\d\d/, `the proxy answered something that is not HTTP/1.1: ${JSON.stringify(bytes.subarray(0, 100).toString('latin1'))}`);
}

const requestSeeds: Buffer[] = [
  ...corpus.filter((c) => c.kind === 'request').map((c) => c.bytes),
  ...ALL_CASES.map((c) => {
    const s = c.send(AUTHORITY);
    return Buffer.concat((Array.isArray(s) ? s : [s]).map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)));
  }),
];
const responseSeeds = corpus.filter((c) => c.kind === 'response').map((c) => c.bytes);

test('corpus: every entry is answered or closed in time, and the proxy still serves', { timeout: 120_000 }, async () => {
  for (const c of corpus) {
    if (c.kind === 'response') {
      const id = String(nextId++);
      responses.set(id, c.bytes);
      checkAnswer(await timedExchange([Buffer.from(`GET /r/${id} HTTP/1.1\r\nHost: ${AUTHORITY}\r\n\r\n`)], { fin: false, complete: responsesComplete(1) }));
      responses.delete(id);
    } else if (c.kind === 'h2') await timedExchange([c.bytes], { fin: true, to: h2Port });
    else checkAnswer(await timedExchange([c.bytes], { fin: true }));
  }
  await stillServes(true);
});

test('well-formed pipelined requests reach the upstream exactly and are answered in order', { timeout: 600_000 }, async () => {
  await counted('well-formed requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 1, maxLength: 3 }), splitsArb, async (reqs: WellFormedRequest[], cuts) => {
        const bytes = Buffer.concat(reqs.map((r) => encodeRequest(r, AUTHORITY)));
        const got = parseResponses(await timedExchange(split(bytes, cuts), { fin: false, complete: responsesComplete(reqs.length) }));
        assert.equal(got.length, reqs.length, `answers to ${reqs.length} requests: ${got.map((g) => g.status).join(',')}`);
        reqs.forEach((r, i) => {
          assert.equal(got[i].status, 200, `request ${i}: ${JSON.stringify(encodeRequest(r, AUTHORITY).toString("latin1").slice(0, 600))} -> ${got[i].body.toString("latin1").slice(0, 200)}`);
          assert.equal(got[i].body.toString('latin1'), `${r.method} ${r.path} ${r.body.length} ${digest(r.body)}`);
        });
        await stillServes();
      }),
      params(40),
    );
  });
});

test('mutated requests: an HTTP answer or a close in time, never a crash', { timeout: 600_000 }, async () => {
  const seed = fc.oneof(fc.constantFrom(...requestSeeds), fc.array(requestArb, { minLength: 1, maxLength: 2 }).map((rs) => Buffer.concat(rs.map((r) => encodeRequest(r, AUTHORITY)))));
  await counted('mutated requests', async () => {
    await fc.assert(
      fc.asyncProperty(seed, fc.array(mutationArb, { minLength: 1, maxLength: 6 }), splitsArb, async (base, edits, cuts) => {
        checkAnswer(await timedExchange(split(mutate(base, edits), cuts), { fin: true }));
        await stillServes();
      }),
      params(120),
    );
  });
});

test('well-formed upstream responses reach the client with their status and body', { timeout: 600_000 }, async () => {
  await counted('well-formed responses', async () => {
    await fc.assert(
      fc.asyncProperty(responseArb, async (res) => {
        const id = String(nextId++);
        responses.set(id, encodeResponse(res));
        try {
          const r = await timedExchange([Buffer.from(`GET /r/${id} HTTP/1.1\r\nHost: ${AUTHORITY}\r\n\r\n`)], { fin: false, complete: responsesComplete(1) });
          const got = parseResponses(r);
          assert.equal(got.length, 1, `answers: ${JSON.stringify(r.toString('latin1').slice(0, 300))}`);
          assert.equal(got[0].status, res.status);
          assert.ok(got[0].body.equals(res.body), `body of ${res.body.length} bytes (${res.framing}) arrived as ${got[0].body.length} bytes`);
        } finally {
          responses.delete(id);
        }
        await stillServes();
      }),
      params(40),
    );
  });
});

test('mutated upstream responses: the client gets an HTTP answer or a close in time, never a crash', { timeout: 600_000 }, async () => {
  const seed = fc.oneof(fc.constantFrom(...(responseSeeds.length > 0 ? responseSeeds : [Buffer.from('HTTP/1.1 200 OK\r\n\r\n')])), responseArb.map(encodeResponse));
  await counted('mutated responses', async () => {
    await fc.assert(
      fc.asyncProperty(seed, fc.array(mutationArb, { minLength: 1, maxLength: 6 }), async (base, edits) => {
        const id = String(nextId++);
        responses.set(id, mutate(base, edits));
        try {
          // the client stays: the upstream's bytes (then its close) decide the answer
          checkAnswer(await timedExchange([Buffer.from(`GET /r/${id} HTTP/1.1\r\nHost: ${AUTHORITY}\r\n\r\n`)], { fin: false, complete: responsesComplete(1) }));
        } finally {
          responses.delete(id);
        }
        await stillServes();
      }),
      params(120),
    );
  });
});

test('HTTP/2 frame sequences (and mutations of them): closed in time, never a crash', { timeout: 600_000 }, async () => {
  const h2Seeds = corpus.filter((c) => c.kind === 'h2').map((c) => c.bytes);
  const input = fc.oneof(
    fc.array(h2FrameArb, { minLength: 1, maxLength: 8 }).map(h2Connection),
    fc.tuple(fc.array(h2FrameArb, { minLength: 1, maxLength: 6 }).map(h2Connection), fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([b, m]) => mutate(b, m)),
    ...(h2Seeds.length > 0 ? [fc.tuple(fc.constantFrom(...h2Seeds), fc.array(mutationArb, { maxLength: 4 })).map(([b, m]) => mutate(b, m))] : []),
  );
  await counted('http2 frames', async () => {
    await fc.assert(
      fc.asyncProperty(input, splitsArb, async (bytes, cuts) => {
        // with the preface intact the client stays: the session must end by the proxy's doing
        // (GOAWAY + close, or the keepalive probe); bytes that are not an HTTP/2 connection are
        // sniffed as HTTP/1.1, which waits for the rest of a head, so that client closes its side
        const h2 = bytes.length >= H2_PREFACE.length && bytes.subarray(0, H2_PREFACE.length).equals(H2_PREFACE);
        await timedExchange(split(bytes, cuts), { fin: !h2, to: h2Port });
        await stillServes();
      }),
      params(60),
    );
  });
  await stillServes(true);
});
