/** Clew's HTTP/1.1 server codec on real sockets: framing, keep-alive, pipelining, bodies, errors, hand-over. */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import type { H1Request } from '../../../src/proxy/codec/codec-http1-request.js';
import type { H1Response } from '../../../src/proxy/codec/codec-http1-response.js';
import { serveHttp1, type H1ServerHandler, type H1ServerOptions } from '../../../src/proxy/codec/codec-http1-server.js';

const OPTS: H1ServerOptions = { maxHeaderBytes: 8192, requireHost: true, idleTimeoutMs: 60_000 };

async function server(handler: Partial<H1ServerHandler>, opts: H1ServerOptions = OPTS): Promise<{ port: number; close(): Promise<void> }> {
  const full: H1ServerHandler = {
    onRequest: handler.onRequest ?? ((_q, s) => s.writeHead(200, { 'content-length': '2' }).end('ok')),
    onConnect: handler.onConnect,
    onCodecError: handler.onCodecError ?? ((err, socket) => socket.end(`HTTP/1.1 400 Bad Request\r\nx-code: ${err.code}\r\ncontent-length: 0\r\n\r\n`)),
  };
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    serveHttp1(s, opts, full);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

/** Sends raw bytes, collects everything until the server closes or `until` matches. */
function exchange(port: number, data: string | string[], until?: (text: string) => boolean, gapMs = 20): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    const timer = setTimeout(() => finish(), 2000);
    const finish = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed });
    };
    s.on('data', (c) => {
      text += c.toString('latin1');
      if (until?.(text)) finish();
    });
    s.on('end', () => {
      closed = true;
      finish();
    });
    s.on('error', reject);
    const parts = Array.isArray(data) ? data : [data];
    let i = 0;
    const next = (): void => {
      if (i < parts.length) s.write(parts[i++]);
      if (i < parts.length) setTimeout(next, gapMs);
    };
    s.on('connect', next);
  });
}

const count = (text: string, re: RegExp): number => (text.match(re) ?? []).length;

test('keep-alive: two requests on one connection, no Connection header; the response carries a date', async () => {
  const srv = await server({});
  try {
    const r = await exchange(srv.port, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n', (t) => count(t, /ok/g) === 2);
    assert.equal(count(r.text, /HTTP\/1\.1 200 OK\r\n/g), 2);
    assert.equal(r.closed, false);
    assert.doesNotMatch(r.text, /connection:/i);
    assert.match(r.text, /date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n/);
  } finally {
    await srv.close();
  }
});

test('pipelined requests are answered in order even when the first answers last', async () => {
  const srv = await server({
    onRequest: (q, s) => {
      const delay = q.url === '/slow' ? 60 : 0;
      setTimeout(() => s.writeHead(200, { 'content-length': String(q.url.length) }).end(q.url), delay);
    },
  });
  try {
    const r = await exchange(srv.port, 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /f HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('/f'));
    assert.ok(r.text.indexOf('/slow') < r.text.indexOf('/f'), r.text);
  } finally {
    await srv.close();
  }
});

test('no content-length: chunked for HTTP/1.1 (with trailers), close-delimited for HTTP/1.0', async () => {
  const srv = await server({
    onRequest: (_q, s) => {
      s.writeHead(200, { 'content-type': 'text/plain' });
      s.write(Buffer.from('hello '));
      setTimeout(() => {
        s.addTrailers({ 'x-checksum': 'abc' });
        s.end(Buffer.from('world'));
      }, 10);
    },
  });
  try {
    const r11 = await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.endsWith('\r\n\r\n') && t.includes('0\r\n'));
    assert.match(r11.text, /transfer-encoding: chunked\r\n/);
    assert.ok(r11.text.endsWith('6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: abc\r\n\r\n'), JSON.stringify(r11.text));
    const r10 = await exchange(srv.port, 'GET / HTTP/1.0\r\n\r\n');
    assert.equal(r10.closed, true, 'HTTP/1.0 body ends at close');
    assert.match(r10.text, /connection: close\r\n/);
    assert.ok(r10.text.endsWith('\r\n\r\nhello world'), JSON.stringify(r10.text));
  } finally {
    await srv.close();
  }
});

test('HEAD and 204 carry no body; Connection: close from the client closes after the response', async () => {
  const srv = await server({
    onRequest: (q, s) => {
      if (q.url === '/204') s.writeHead(204, {}).end();
      else s.writeHead(200, { 'content-length': '5' }).end('hello');
    },
  });
  try {
    const r = await exchange(srv.port, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(r.closed, true);
    assert.doesNotMatch(r.text, /hello/);
    assert.match(r.text, /content-length: 5\r\n/, 'HEAD keeps the length of the GET');
    assert.match(r.text, /HTTP\/1\.1 204 No Content\r\n(?:(?!transfer-encoding).)*connection: close\r\n/s);
  } finally {
    await srv.close();
  }
});

test('request bodies: content-length and chunked reach the handler; an unread body is discarded and the connection goes on', async () => {
  const bodies: string[] = [];
  const srv = await server({
    onRequest: (q, s) => {
      if (q.url === '/ignore') {
        s.writeHead(404, { 'content-length': '0' }).end();
        return;
      }
      const chunks: Buffer[] = [];
      q.body!.on('data', (c: Buffer) => chunks.push(c));
      q.body!.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString());
        s.writeHead(200, { 'content-length': '2' }).end('ok');
      });
    },
  });
  try {
    const r = await exchange(
      srv.port,
      [
        'POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab',
        'cdef',
        'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello',
        'POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
        '2\r\nde\r\n0\r\n\r\n',
      ],
      (t) => count(t, /ok/g) === 2,
    );
    assert.match(r.text, /^HTTP\/1\.1 404 Not Found/);
    assert.deepEqual(bodies, ['hello', 'abcde']);
  } finally {
    await srv.close();
  }
});

test('Expect: 100-continue is answered by the codec and not passed on', async () => {
  let seen: H1Request | undefined;
  const srv = await server({
    onRequest: (q, s) => {
      seen = q;
      q.body!.resume();
      q.body!.on('end', () => s.writeHead(200, { 'content-length': '2' }).end('ok'));
    },
  });
  try {
    const r = await exchange(srv.port, ['POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n', 'abc'], (t) => t.endsWith('ok'));
    assert.match(r.text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    assert.equal(seen?.headers.expect, undefined);
  } finally {
    await srv.close();
  }
});

test('codec errors: smuggling shape and missing Host go to onCodecError with their codes; header overflow too', async () => {
  const srv = await server({});
  try {
    const te = await exchange(srv.port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    assert.match(te.text, /^HTTP\/1\.1 400 .*x-code: HPE_INVALID_TRANSFER_ENCODING/s);
    const noHost = await exchange(srv.port, 'GET / HTTP/1.1\r\n\r\n');
    assert.match(noHost.text, /x-code: CLEW_HTTP1_MISSING_HOST/);
    const big = await exchange(srv.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`);
    assert.match(big.text, /x-code: HPE_HEADER_OVERFLOW/);
  } finally {
    await srv.close();
  }
});

test('repeated headers: joined with a comma, cookies with "; ", a second Host is dropped', async () => {
  let seen: H1Request | undefined;
  const srv = await server({ onRequest: (q, s) => { seen = q; s.writeHead(200, { 'content-length': '0' }).end(); } });
  try {
    await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nX-A: 1\r\nx-a: 2\r\nCookie: c=1\r\nCookie: d=2\r\n\r\n', (t) => t.includes('200'));
    assert.equal(seen?.headers.host, 'a');
    assert.equal(seen?.headers['x-a'], '1, 2');
    assert.equal(seen?.headers.cookie, 'c=1; d=2');
  } finally {
    await srv.close();
  }
});

test('an Upgrade request is a request: switchProtocols writes the 101 and hands over the socket with the bytes after the head', async () => {
  let seen: H1Request | undefined;
  const srv = await server({
    onRequest: (q, res) => {
      seen = q;
      // switched at once (inside the read that carried the head): what followed the head is
      // in the socket, not yet in `head`
      const t = res.switchProtocols('websocket', { 'x-a': '1' })!;
      t.socket.write(`${q.upgrade}:${t.head.toString()}|`);
      t.socket.on('data', (c: Buffer) => t.socket.write(c));
      t.socket.resume(); // handed over paused
    },
  });
  try {
    const r = await exchange(srv.port, ['GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\nfirst', 'echo'], (t) => t.endsWith('echo'));
    assert.match(r.text, /^HTTP\/1\.1 101 Switching Protocols\r\nx-a: 1\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\nwebsocket:\|firstecho$/);
    assert.equal(seen?.upgrade, 'websocket');
    assert.equal(seen?.body, null, 'no body is parsed for an Upgrade request');
  } finally {
    await srv.close();
  }
});

test('an Upgrade request answered without switching: the answer is the last on the connection; bytes after the head are never parsed', async () => {
  const urls: string[] = [];
  const srv = await server({
    onRequest: (q, res) => {
      urls.push(q.url);
      res.writeHead(403, { 'content-length': '0' }).end();
    },
  });
  try {
    const r = await exchange(srv.port, 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.match(r.text, /^HTTP\/1\.1 403 Forbidden\r\n[^]*connection: close\r\n/);
    assert.equal(r.text.split('HTTP/1.1').length - 1, 1);
    assert.equal(r.closed, true);
    assert.deepEqual(urls, ['/ws']);
  } finally {
    await srv.close();
  }
});

test('Upgrade: h2c is stripped and the request served as HTTP/1.1; the connection goes on (body and a pipelined request after it)', async () => {
  const seen: H1Request[] = [];
  const srv = await server({
    onRequest: (q, res) => {
      seen.push(q);
      const done = () => res.writeHead(200, { 'content-length': String(q.url.length) }).end(q.url);
      if (q.body) {
        q.body.resume();
        q.body.on('end', done);
      } else done();
    },
  });
  try {
    const r = await exchange(
      srv.port,
      'POST /h2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, keep-alive\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\nHost: x\r\n\r\n',
      (t) => t.endsWith('/next'),
    );
    assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n[^]*\/h2cHTTP\/1\.1 200 OK\r\n[^]*\/next$/);
    assert.equal(seen[0].upgrade, undefined);
    assert.equal(seen[0].headers.upgrade, undefined);
    assert.equal(seen[0].headers['http2-settings'], undefined);
    assert.equal(seen[0].headers.connection, 'keep-alive');
    assert.deepEqual(seen.map((q) => q.url), ['/h2c', '/next']);
    // a malformed request after an h2c one is still caught (llhttp's upgrade flag is cleared)
    const bad = await exchange(srv.port, 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nGARBAGE\r\n\r\n');
    assert.match(bad.text, /\/aHTTP\/1\.1 400 Bad Request\r\nx-code: HPE_INVALID_METHOD/);
  } finally {
    await srv.close();
  }
});

test('a client that goes away mid-response: the response reports close without finishing', async () => {
  let res: H1Response | undefined;
  let closedUnfinished: boolean | undefined;
  const srv = await server({
    onRequest: (_q, s) => {
      res = s;
      s.writeHead(200, { 'content-length': '100' });
      s.write(Buffer.from('partial'));
      s.once('close', () => (closedUnfinished = !s.writableFinished));
    },
  });
  try {
    await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', (t) => t.includes('partial'));
    for (let i = 0; i < 50 && closedUnfinished === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(res);
    assert.equal(closedUnfinished, true);
  } finally {
    await srv.close();
  }
});

test('an idle keep-alive connection closes after idleTimeoutMs', async () => {
  const srv = await server({}, { ...OPTS, idleTimeoutMs: 100 });
  try {
    const t0 = Date.now();
    const r = await exchange(srv.port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(r.closed, true);
    assert.ok(Date.now() - t0 >= 90 && Date.now() - t0 < 1500, `closed after ${Date.now() - t0} ms`);
  } finally {
    await srv.close();
  }
});

test('requests closer together than idleTimeoutMs keep the connection; it closes idleTimeoutMs after the last one', async () => {
  const srv = await server({}, { ...OPTS, idleTimeoutMs: 150 });
  try {
    const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    const t0 = Date.now();
    // six requests 80 ms apart: 400 ms in all, well past one idle period
    const r = await exchange(srv.port, [req, req, req, req, req, req], undefined, 80);
    const elapsed = Date.now() - t0;
    assert.equal(r.text.split('HTTP/1.1 200').length - 1, 6, r.text);
    assert.equal(r.closed, true);
    assert.ok(elapsed >= 400 + 130 && elapsed < 400 + 1500, `closed ${elapsed - 400} ms after the last request (idle 150 ms)`);
  } finally {
    await srv.close();
  }
});

test('a malformed chunk in the body of the request under way: its body is aborted without an error event, the client gets 400 and the connection closes', async () => {
  const body: string[] = [];
  const srv = await server({
    onRequest: (q) => {
      // a handler that never answers and never listens for 'error': the codec answers for it
      q.body!.on('data', () => body.push('data'));
      q.body!.on('end', () => body.push('end'));
      q.body!.on('close', () => body.push('close'));
    },
  });
  try {
    const r = await exchange(srv.port, ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'ZZ\r\n']);
    assert.match(r.text, /^HTTP\/1\.1 400 [^]*connection: close/);
    assert.equal(r.closed, true, 'the client sees the connection end');
    assert.deepEqual(body, ['data', 'close'], 'aborted: close without end');
  } finally {
    await srv.close();
  }
});

test('a malformed chunk after the response started resets the connection', async () => {
  const srv = await server({
    onRequest: (q, s) => {
      s.writeHead(200, { 'content-length': '100' });
      s.write('partial');
      q.body!.resume();
    },
  });
  try {
    const r = await exchange(srv.port, ['POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', '-1\r\n']);
    assert.match(r.text, /^HTTP\/1\.1 200 [^]*partial$/);
    assert.equal(r.closed, true);
  } finally {
    await srv.close();
  }
});

for (const [name, bytes] of [
  ['a chunk size `zz`', 'zz\r\nhello\r\n0\r\n\r\n'],
  ['a chunk size `-1`', '-1\r\nhello\r\n0\r\n\r\n'],
  ['a chunk size `0x5`', '0x5\r\nhello\r\n0\r\n\r\n'],
  ['bare-LF chunk lines', '5\nhello\n0\n\n'],
  ['a chunk longer than its size', '3\r\nhello\r\n0\r\n\r\n'],
  ['a 20 KB chunk extension', `5;${'e'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`],
]) {
  test(`${name} in a body nobody reads yet: 400 and close, no unhandled error`, async () => {
    let req: H1Request | undefined;
    const srv = await server({ onRequest: (q) => (req = q) });
    try {
      const r = await exchange(srv.port, `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${bytes}`);
      assert.match(r.text, /^HTTP\/1\.1 400 /);
      assert.equal(r.closed, true);
      assert.equal(req?.body?.destroyed, true);
    } finally {
      await srv.close();
    }
  });
}

for (const [name, head, status, code] of [
  ['Transfer-Encoding: identity', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\nabc', 501, 'CLEW_HTTP1_UNSUPPORTED_TE'],
  ['Transfer-Encoding: xchunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\nabc', 501, 'CLEW_HTTP1_UNSUPPORTED_TE'],
  ['Transfer-Encoding: gzip, chunked', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 501, 'CLEW_HTTP1_UNSUPPORTED_TE'],
  ['HTTP/1.0 with chunked', 'POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 400, 'CLEW_HTTP1_TE_IN_HTTP10'],
  ['an HTTP/2.0 request line', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 400, 'CLEW_HTTP1_BAD_VERSION'],
  ['an HTTP/0.9 request line', 'GET /\r\n', 400, 'CLEW_HTTP1_HTTP09'],
  ['an HTTP/0.9 request line and an empty line', 'GET /\r\n\r\n', 400, 'CLEW_HTTP1_HTTP09'],
  ['101 header fields', `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 100 }, (_, i) => `x-h${i}: v\r\n`).join('')}\r\n`, 431, 'CLEW_HTTP1_TOO_MANY_HEADERS'],
] as const) {
  test(`the head check: ${name} -> onCodecError ${code} before any request is dispatched`, async () => {
    let dispatched = 0;
    const srv = await server({
      onRequest: () => dispatched++,
      onCodecError: (err, socket) => socket.end(`HTTP/1.1 ${code === err.code ? status : 500} X\r\nx-code: ${err.code}\r\ncontent-length: 0\r\n\r\n`),
    }, { ...OPTS, maxHeaderBytes: 16384 });
    try {
      const t0 = Date.now();
      const r = await exchange(srv.port, head);
      assert.match(r.text, new RegExp(`^HTTP/1\\.1 ${status} X\r\nx-code: ${code}\r\n`));
      assert.ok(Date.now() - t0 < 1000, `answered after ${Date.now() - t0} ms`);
      assert.equal(dispatched, 0);
    } finally {
      await srv.close();
    }
  });
}

test('100 header fields pass; the limit follows maxHeadersCount', async () => {
  const srv = await server({}, { ...OPTS, maxHeaderBytes: 16384 });
  const fields = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');
  try {
    const ok = await exchange(srv.port, `GET / HTTP/1.1\r\nHost: x\r\n${fields(99)}\r\n`, (t) => t.includes('ok'));
    assert.match(ok.text, /^HTTP\/1\.1 200 /);
  } finally {
    await srv.close();
  }
  const small = await server({}, { ...OPTS, maxHeadersCount: 5 });
  try {
    const r = await exchange(small.port, `GET / HTTP/1.1\r\nHost: x\r\n${fields(5)}\r\n`);
    assert.match(r.text, /x-code: CLEW_HTTP1_TOO_MANY_HEADERS/);
  } finally {
    await small.close();
  }
});

test('a request line split across reads without a version is still caught; one with a version waits for its headers', async () => {
  const srv = await server({});
  try {
    const r = await exchange(srv.port, ['GE', 'T /ind', 'ex\r', '\n']);
    assert.match(r.text, /x-code: CLEW_HTTP1_HTTP09/);
    const ok = await exchange(srv.port, ['\r\nGET /index HT', 'TP/1.1\r', '\nHost: x\r\n', '\r\n'], (t) => t.includes('ok'));
    assert.match(ok.text, /^HTTP\/1\.1 200 /);
  } finally {
    await srv.close();
  }
});

test('pipelined request without Host: the request before it is answered, then a 400, nothing after it is dispatched', async () => {
  const urls: string[] = [];
  const srv = await server({
    onRequest: (q, s) => {
      urls.push(q.url);
      s.writeHead(200, { 'content-length': String(q.url.length) }).end(q.url);
    },
  });
  try {
    const r = await exchange(srv.port, 'GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /nohost HTTP/1.1\r\n\r\nGET /third HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(urls, ['/first']);
    assert.match(r.text, /\/firstHTTP\/1\.1 400 Bad Request\r\nx-code: CLEW_HTTP1_MISSING_HOST\r\n/);
    assert.equal(r.closed, true);
  } finally {
    await srv.close();
  }
});

test('Upgrade with a body: the codec does not eat the body; bytes sent before the switch are kept', async () => {
  let head = '';
  let later = '';
  const srv = await server({
    onRequest: (_q, res) => {
      // switch only after a while: what the client sent meanwhile is held
      setTimeout(() => {
        const t = res.switchProtocols('websocket')!;
        head = t.head.toString();
        const check = () => {
          if ((head + later).endsWith('LATE')) t.socket.end('done');
        };
        t.socket.on('data', (c: Buffer) => {
          later += c.toString();
          check();
        });
        t.socket.resume();
        check();
      }, 50);
    },
  });
  try {
    const r = await exchange(srv.port, ['GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 4\r\n\r\nBODY', 'EARLY', 'LATE'], (t) => t.endsWith('done'), 10);
    assert.match(r.text, /^HTTP\/1\.1 101 [^]*\r\n\r\ndone$/);
    assert.equal(head + later, 'BODYEARLYLATE');
  } finally {
    await srv.close();
  }
});

test('Expect: 100-continue on a pipelined request is answered when its turn comes', async () => {
  const srv = await server({
    onRequest: (q, s) => {
      const done = () => s.writeHead(200, { 'content-length': String(q.url.length) }).end(q.url);
      if (q.body) {
        q.body.resume();
        q.body.on('end', done);
      } else setTimeout(done, 30);
    },
  });
  try {
    const r = await exchange(srv.port, ['GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n'], (t) => t.includes('100 Continue'));
    assert.match(r.text, /\/aHTTP\/1\.1 100 Continue\r\n\r\n$/, 'the 100 follows the first response');
  } finally {
    await srv.close();
  }
});

test('a request head dripped slower than headersTimeoutMs gets 408 and the connection closes', async () => {
  const srv = await server({
    onCodecError: (err, socket) => socket.end(`HTTP/1.1 ${err.code === 'CLEW_HTTP1_HEADERS_TIMEOUT' ? 408 : 400} X\r\ncontent-length: 0\r\n\r\n`),
  }, { ...OPTS, headersTimeoutMs: 100 });
  try {
    const r = await exchange(srv.port, ['GET / HTTP/1.1\r\n', 'Host: x\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', '\r\n'], undefined, 60);
    assert.match(r.text, /^HTTP\/1\.1 408/);
    assert.equal(r.closed, true);
  } finally {
    await srv.close();
  }
});

test('a pipelined head that begins mid-read and arrives in three reads is one request, not HTTP/0.9 (found by the codec fuzz target)', async () => {
  const seen: string[] = [];
  const srv = await server({
    onRequest: (q, s) => {
      seen.push(`${q.method} ${q.url}`);
      // the first answer waits, so the second head arrives while the first is under way
      setTimeout(() => s.writeHead(200, { 'content-length': '2' }).end('ok'), seen.length === 1 ? 150 : 0);
    },
  });
  try {
    const parts = [
      'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPUT /b HTTP/1.1\r\nHost: x\r\nx-one: 1\r\nx-t',
      'wo: 2\r\nx-thr',
      'ee: 3\r\n\r\n',
    ];
    const r = await exchange(srv.port, parts, (t) => count(t, /ok/g) === 2, 40);
    assert.equal(count(r.text, /HTTP\/1\.1 200 OK\r\n/g), 2, r.text);
    assert.deepEqual(seen, ['POST /a', 'PUT /b']);
  } finally {
    await srv.close();
  }
});

test('request fields named like Object members (constructor, toString) are fields; __proto__ is dropped (found by the codec fuzz target)', async () => {
  let headers: Record<string, unknown> | undefined;
  const srv = await server({
    onRequest: (q, s) => {
      headers = q.headers as Record<string, unknown>;
      s.writeHead(200, { 'content-length': '2' }).end('ok');
    },
  });
  try {
    await exchange(srv.port, 'GET /a HTTP/1.1\r\nHost: x\r\nconstructor: c\r\ntoString: t\r\n__proto__: p\r\n\r\n', (t) => t.endsWith('ok'));
    assert.equal(headers?.constructor, 'c');
    assert.equal(headers?.tostring, 't');
    assert.equal(Object.getPrototypeOf(headers), Object.prototype);
  } finally {
    await srv.close();
  }
});
