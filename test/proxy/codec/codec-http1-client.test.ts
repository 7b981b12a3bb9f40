/**
 * The HTTP/1.1 client codec on the wire (through Http1Pool, against raw TCP and node:http servers):
 * request framing (Buffer, streamed raw and chunked bodies, backpressure), responses with trailers,
 * EOF-delimited bodies, bodiless responses (HEAD, 204, 304, content-length 0), 1xx skipping,
 * resets mid-body, malformed responses, large header blocks, and read backpressure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { createHash } from 'node:crypto';
import { heads, newPool, rawServer, send, sleep, waitFor } from '../upstream/pool-http1-helpers.js';

test('a Buffer body: content-length from its length (caller framing headers dropped), head and body in one write', async () => {
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('hello world')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, { method: 'POST', path: '/p?q=1', headers: { host: 'up', 'content-length': '99', 'transfer-encoding': 'chunked', connection: 'x' }, body: Buffer.from('hello world') }).done;
    assert.equal(r.status, 200);
    const text = up.received[0];
    assert.ok(text.startsWith('POST /p?q=1 HTTP/1.1\r\n'), text);
    assert.match(text, /\r\ncontent-length: 11\r\n/);
    assert.doesNotMatch(text, /content-length: 99|transfer-encoding|connection:/);
    assert.ok(text.endsWith('\r\n\r\nhello world'));
  } finally {
    await pool.close();
    await up.close();
  }
});

test('one socket write per request: head + Buffer body arrive in one segment', async () => {
  const chunks: number[] = [];
  const up = await rawServer((sock, soFar) => {
    chunks.push(soFar.length);
    if (soFar.endsWith('BODY')) sock.write('HTTP/1.1 204 No Content\r\n\r\n');
  });
  const { pool } = newPool(up.port);
  try {
    await send(pool, { method: 'PUT', body: Buffer.from('BODY') }).done;
    assert.equal(chunks.length, 1, 'the server read the whole request at once');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('no body: GET has no framing headers; POST says content-length: 0', async () => {
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
  });
  const { pool } = newPool(up.port);
  try {
    await send(pool, { method: 'GET' }).done;
    await send(pool, { method: 'POST' }).done;
    const [get, post] = up.received[0].split(/(?=POST)/);
    assert.doesNotMatch(get, /content-length|transfer-encoding/);
    assert.match(post, /\r\ncontent-length: 0\r\n/);
  } finally {
    await pool.close();
    await up.close();
  }
});

async function echoServer() {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-te': req.headers['transfer-encoding'] ?? '', 'x-cl': req.headers['content-length'] ?? '' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

test('a stream body without content-length goes chunked; with content-length it goes raw; the connection is reused', async () => {
  const up = await echoServer();
  const { pool, ev } = newPool(up.port);
  try {
    const chunked = new PassThrough();
    const a = send(pool, { method: 'POST', body: chunked });
    chunked.write('abc');
    await sleep(10);
    chunked.write(Buffer.alloc(0));
    chunked.end('def');
    const ra = await a.done;
    assert.equal(ra.body.toString(), 'abcdef');
    assert.equal(ra.headers?.['x-te'], 'chunked');
    assert.equal(ra.headers?.['x-cl'], '');

    const raw = new PassThrough();
    const b = send(pool, { method: 'PUT', headers: { host: 'up', 'content-length': '6' }, body: raw });
    raw.end('ghijkl');
    const rb = await b.done;
    assert.equal(rb.body.toString(), 'ghijkl');
    assert.equal(rb.headers?.['x-te'], '');
    assert.equal(rb.headers?.['x-cl'], '6');
    assert.equal(ev.connect, 1);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('request body backpressure: the body pauses while the socket is full and resumes on drain', async () => {
  let reading = false;
  let received = 0;
  const total = 32 * 1024 * 1024;
  const server = http.createServer((req, res) => {
    req.pause();
    const start = () => {
      reading = true;
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => res.writeHead(200, { 'content-length': '0' }).end());
      req.resume();
    };
    setTimeout(start, 300);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { pool } = newPool((server.address() as AddressInfo).port);
  try {
    const body = new PassThrough({ highWaterMark: 64 * 1024 });
    const s = send(pool, { method: 'POST', body });
    const chunk = Buffer.alloc(1024 * 1024, 120);
    let written = 0;
    let sawPause = false;
    const pump = async () => {
      while (written < total) {
        if (body.isPaused()) sawPause = true;
        if (!body.write(chunk)) await new Promise((r) => body.once('drain', r));
        written += chunk.length;
      }
      body.end();
    };
    const pumping = pump();
    await waitFor(() => body.isPaused() || reading, 3000, 'pause');
    assert.equal(reading, false);
    assert.ok(body.isPaused() || sawPause, 'the pool paused the request body');
    await pumping;
    const r = await s.done;
    assert.equal(r.status, 200);
    assert.equal(received, total);
  } finally {
    await pool.close();
    await new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  }
});

test('a chunked response with trailers: body chunks, then onEnd with the trailers (lower-case names)', async () => {
  const up = await rawServer((sock, soFar) => {
    if (!soFar.endsWith('\r\n\r\n')) return;
    sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Grpc-Status\r\n\r\n5\r\nhello\r\n');
    setTimeout(() => sock.write('6\r\n world\r\n0\r\nGrpc-Status: 0\r\nX-Trail: a\r\nx-trail: b\r\n\r\n'), 20);
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.equal(r.body.toString(), 'hello world');
    assert.equal(r.endStream, false);
    assert.deepEqual(r.trailers, { 'grpc-status': '0', 'x-trail': ['a', 'b'] });
    const r2 = await send(pool, {}).done;
    assert.equal(r2.body.toString(), 'hello world');
    assert.equal(up.sockets.length, 1, 'reused after a chunked response');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('an EOF-delimited body completes at the server FIN; the connection is not reused', async () => {
  const up = await rawServer((sock, soFar) => {
    if (!soFar.endsWith('\r\n\r\n')) return;
    sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart1,');
    setTimeout(() => sock.end('part2'), 20);
  });
  const { pool, ev } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.deepEqual(r.calls.at(-1), 'end');
    assert.equal(r.body.toString(), 'part1,part2');
    await waitFor(() => ev.disconnect === 1, 2000, 'closed');
    assert.equal((await send(pool, {}).done).body.toString(), 'part1,part2');
    assert.equal(up.sockets.length, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a content-length body in many small reads after its head arrives whole, then the connection carries the next exchange', async () => {
  const up = await rawServer((sock, soFar) => {
    if (!soFar.endsWith('\r\n\r\n')) return;
    if (heads(soFar) > 1) {
      // second exchange on the connection: head and body in one segment
      sock.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nagain');
      return;
    }
    sock.write('HTTP/1.1 200 OK\r\ncontent-length: 30\r\n\r\n');
    let k = 0;
    const next = () => {
      sock.write('abc');
      if (++k < 10) setTimeout(next, 5);
    };
    setTimeout(next, 5);
  });
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    const r = await send(pool, {}).done;
    assert.equal(r.body.toString(), 'abc'.repeat(10));
    assert.equal(r.calls.filter((c) => c === 'data').length >= 2, true, `body chunks: ${r.calls.join(',')}`);
    assert.equal(r.calls.at(-1), 'end');
    const r2 = await send(pool, {}).done;
    assert.equal(r2.body.toString(), 'again');
    assert.equal(ev.connect, 1);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a reset mid-body is kind reset after the headers; a close before any response too', async () => {
  const up = await rawServer((sock, soFar, i) => {
    if (!soFar.endsWith('\r\n\r\n')) return;
    if (i === 0) {
      sock.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
      setTimeout(() => sock.destroy(), 20);
    } else sock.end();
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.deepEqual(r.calls, ['headers', 'data', 'error']);
    assert.equal(r.error?.kind, 'reset');
    assert.equal(r.body.toString(), '0123456789');
    const r2 = await send(pool, {}).done;
    assert.deepEqual(r2.calls, ['error']);
    assert.equal(r2.error?.kind, 'reset');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('bodiless responses report endStream: HEAD (with content-length), 204, 304, content-length 0; the connection stays usable', async () => {
  const replies: Record<string, string> = {
    '/head': 'HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n',
    '/204': 'HTTP/1.1 204 No Content\r\n\r\n',
    '/304': 'HTTP/1.1 304 Not Modified\r\netag: "x"\r\n\r\n',
    '/zero': 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n',
    '/body': 'HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody',
  };
  let answered = 0;
  const up = await rawServer((sock, soFar) => {
    const reqs = soFar.split('\r\n\r\n').slice(0, -1);
    for (; answered < reqs.length; answered++) sock.write(replies[reqs[answered].split(' ')[1]]);
  });
  const { pool } = newPool(up.port);
  try {
    const head = await send(pool, { method: 'HEAD', path: '/head' }).done;
    assert.deepEqual([head.status, head.endStream, head.headers?.['content-length'], head.calls], [200, true, '1234', ['headers', 'end']]);
    for (const [path, status] of [['/204', 204], ['/304', 304], ['/zero', 200]] as const) {
      const r = await send(pool, { path }).done;
      assert.deepEqual([r.status, r.endStream, r.calls], [status, true, ['headers', 'end']], path);
    }
    const body = await send(pool, { path: '/body' }).done;
    assert.deepEqual([body.endStream, body.body.toString()], [false, 'body']);
    assert.equal(up.sockets.length, 1);
    assert.equal(heads(up.received[0]), 5);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('1xx responses (100-continue, 103) are skipped: the handler sees only the final response', async () => {
  const up = await rawServer((sock, soFar) => {
    if (!soFar.endsWith('\r\n\r\n')) return;
    sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n');
    setTimeout(() => sock.write('HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok'), 10);
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.deepEqual([r.status, r.headers?.link, r.body.toString(), r.calls], [201, undefined, 'ok', ['headers', 'data', 'end']]);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a malformed response is kind protocol (Envoy: protocol_error, flag UPE)', async () => {
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n');
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.equal(r.error?.kind, 'protocol');
    assert.match(r.error?.message ?? '', /HPE_/);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('response headers: more than 32 fields (flushed early by llhttp) all arrive; repeated names become arrays; original case is lowered', async () => {
  const many = Array.from({ length: 40 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('\r\n\r\n')) sock.write(`HTTP/1.1 200 OK\r\n${many}Set-Cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 0\r\n\r\n`);
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    for (let i = 0; i < 40; i++) assert.equal(r.headers?.[`x-h${i}`], `v${i}`);
    assert.deepEqual(r.headers?.['set-cookie'], ['a=1', 'b=2']);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('response fields named like Object members (constructor, toString) arrive as fields; __proto__ changes nothing (found by the codec fuzz target: a 503)', async () => {
  const up = await rawServer((sock, soFar) => {
    if (soFar.endsWith('\r\n\r\n')) sock.write('HTTP/1.1 200 OK\r\nconstructor: P (\r\ntoString: t\r\n__proto__: x\r\ncontent-length: 2\r\n\r\nok');
  });
  const { pool } = newPool(up.port);
  try {
    const r = await send(pool, {}).done;
    assert.equal(r.error, undefined);
    assert.equal(r.status, 200);
    assert.equal(r.headers?.constructor, 'P (');
    assert.equal(r.headers?.tostring, 't');
    assert.equal(Object.getPrototypeOf(r.headers), Object.prototype);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a status outside 100-599 is an upstream protocol error (RFC 9110 15; found by the codec fuzz target: 800 was relayed)', async () => {
  for (const line of ['HTTP/1.1 800 Unknown', 'HTTP/1.1 099 Low', 'HTTP/1.1 000 Zero']) {
    const up = await rawServer((sock, soFar) => {
      if (soFar.endsWith('\r\n\r\n')) sock.write(`${line}\r\ncontent-length: 2\r\n\r\nok`);
    });
    const { pool } = newPool(up.port);
    try {
      const r = await send(pool, {}).done;
      assert.equal(r.error?.kind, 'protocol', line);
    } finally {
      await pool.close();
      await up.close();
    }
  }
});

test('read backpressure: onData returning false stops reading the socket until resume()', async () => {
  const total = 16 * 1024 * 1024;
  let written = 0;
  let flushed = false;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(total) });
    const chunk = Buffer.alloc(256 * 1024, 97);
    const pump = () => {
      while (written < total) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end(() => (flushed = true));
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { pool } = newPool((server.address() as AddressInfo).port);
  try {
    let paused = true;
    const s = send(pool, {}, () => !paused);
    await waitFor(() => s.result.calls.includes('data'), 3000, 'first data');
    await sleep(200);
    const got = s.result.bytes;
    await sleep(100);
    assert.equal(s.result.bytes, got, 'no data while paused');
    assert.ok(written < total && !flushed, `the server is held back (${written} of ${total} written)`);
    paused = false;
    s.control.resume();
    const r = await s.done;
    assert.equal(r.body.length, total);
  } finally {
    await pool.close();
    await new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  }
});

test('bodies stay intact when several connections read at once (one shared read buffer, llhttp copies)', async () => {
  const bodies = [0, 1, 2].map((i) => createHash('sha256').update(String(i)).digest().toString('hex').repeat(20_000));
  const server = http.createServer((req, res) => {
    const b = bodies[Number(req.url?.slice(1))];
    res.writeHead(200, { 'content-length': String(b.length) });
    // small writes, interleaved between the connections
    let off = 0;
    const step = () => {
      if (off >= b.length) return void res.end();
      res.write(b.slice(off, (off += 7919)));
      setImmediate(step);
    };
    step();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { pool } = newPool((server.address() as AddressInfo).port);
  try {
    const rs = await Promise.all([0, 1, 2].map((i) => send(pool, { path: `/${i}` }).done));
    rs.forEach((r, i) => assert.ok(r.body.toString() === bodies[i], `body ${i} intact`));
  } finally {
    await pool.close();
    await new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  }
});

test('a response head split across reads survives other connections reading in between', async () => {
  const up = await rawServer((sock, soFar, i) => {
    if (!soFar.endsWith('\r\n\r\n')) return;
    if (i === 0) {
      sock.write('HTTP/1.1 200 OK\r\nx-split-header: first-ha');
      setTimeout(() => sock.write('lf-second-half\r\ncontent-length: 3\r\n\r\none'), 60);
    } else sock.write('HTTP/1.1 200 OK\r\nx-other: zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\r\ncontent-length: 3\r\n\r\ntwo');
  });
  const { pool } = newPool(up.port);
  try {
    const a = send(pool, { path: '/a' });
    await waitFor(() => up.sockets.length === 1, 2000, 'first connection');
    await sleep(20);
    const b = await send(pool, { path: '/b' }).done;
    assert.equal(b.body.toString(), 'two');
    const r = await a.done;
    assert.equal(r.headers?.['x-split-header'], 'first-half-second-half');
    assert.equal(r.body.toString(), 'one');
  } finally {
    await pool.close();
    await up.close();
  }
});
