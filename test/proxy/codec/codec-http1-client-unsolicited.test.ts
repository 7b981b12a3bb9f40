/**
 * The HTTP/1.1 client codec against upstreams that send bytes nobody asked for (through Http1Pool,
 * raw TCP servers on 127.0.0.1): bytes after a complete response in the same read, and bytes on an
 * idle connection, are a protocol error (Envoy's rule): the connection closes, is never reused, and
 * what it carried never reaches another request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as net from 'node:net';
import { heads, newPool, rawServer, send, sleep, waitFor } from '../upstream/pool-http1-helpers.js';

/**
 * A server whose first connection answers its first request with `first` (one write, so the
 * client reads it at once); every later request, on any connection, gets its own response naming
 * its path and its connection.
 */
function answering(first: string): (sock: net.Socket, soFar: string, i: number) => void {
  const answered: number[] = [];
  return (sock, soFar, i) => {
    const n = heads(soFar);
    for (let k = answered[i] ?? 0; k < n; k++) {
      if (i === 0 && k === 0) sock.write(first);
      else {
        const path = /^GET (\S+)/.exec(soFar.split('\r\n\r\n')[k])?.[1] ?? '?';
        const body = `real ${path} on #${i}`;
        sock.write(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
      }
    }
    answered[i] = n;
  };
}

const FIRST = 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst';
const POISON = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\nx-poison: yes\r\n\r\nPOISONED';

test('a second, unsolicited response after a complete one (same write) never reaches the queued request: it goes out on a fresh connection', async () => {
  const up = await rawServer(answering(FIRST + POISON));
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    const a = send(pool, { path: '/a' });
    const b = send(pool, { path: '/b' }); // queued behind /a: one connection
    const ra = await a.done;
    assert.equal(ra.status, 200);
    assert.equal(ra.body.toString(), 'first');
    const rb = await b.done;
    assert.equal(rb.error, undefined, rb.error?.message);
    assert.equal(rb.headers?.['x-poison'], undefined);
    assert.equal(rb.body.toString(), 'real /b on #1');
    // the poisoned connection carried /a only and was closed
    assert.equal(heads(up.received[0]), 1);
    assert.equal(up.sockets.length, 2);
    assert.equal(ev.connect, 2);
    await waitFor(() => ev.disconnect === 1, 2000, 'the poisoned connection closed');
  } finally {
    await pool.close();
    await up.close();
  }
});

test('the start of an unsolicited response (a partial head, no parser callback) after a complete one: the queued request still gets a fresh connection', async () => {
  const up = await rawServer(answering(FIRST + 'HTTP/1.1 200 OK\r\ncontent-le'));
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    const a = send(pool, { path: '/a' });
    const b = send(pool, { path: '/b' });
    assert.equal((await a.done).body.toString(), 'first');
    const rb = await b.done;
    assert.equal(rb.error, undefined, rb.error?.message);
    assert.equal(rb.body.toString(), 'real /b on #1');
    assert.equal(heads(up.received[0]), 1);
    assert.equal(ev.connect, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('unsolicited bytes after a complete response with nothing queued: the connection is closed, not reused, and the next request gets its own response', async () => {
  // the extra response's body is left unfinished: on a reused connection the next real response would vanish into it
  const up = await rawServer(answering(FIRST + 'HTTP/1.1 200 OK\r\ncontent-length: 30\r\n\r\nabc'));
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    const ra = await send(pool, { path: '/a' }).done;
    assert.equal(ra.body.toString(), 'first');
    await waitFor(() => ev.disconnect === 1, 2000, 'the poisoned connection closed');
    const rb = await send(pool, { path: '/b' }).done;
    assert.equal(rb.error, undefined, rb.error?.message);
    assert.equal(rb.status, 200);
    assert.equal(rb.body.toString(), 'real /b on #1');
    assert.equal(heads(up.received[0]), 1);
    assert.equal(ev.connect, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('a stray CRLF after a complete response is tolerated (llhttp skips it): the connection is reused for the queued request', async () => {
  const up = await rawServer(answering(FIRST + '\r\n'));
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    const a = send(pool, { path: '/a' });
    const b = send(pool, { path: '/b' });
    assert.equal((await a.done).body.toString(), 'first');
    assert.equal((await b.done).body.toString(), 'real /b on #0');
    assert.equal(ev.connect, 1);
    assert.equal(ev.disconnect, 0);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('bytes on an idle connection (no request outstanding) close it; the next request opens a new one', async () => {
  const up = await rawServer(answering(FIRST));
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    assert.equal((await send(pool, { path: '/a' }).done).body.toString(), 'first');
    await sleep(20);
    assert.equal(ev.disconnect, 0);
    up.sockets[0].write(POISON);
    await waitFor(() => ev.disconnect === 1, 2000, 'the idle connection closed');
    const rb = await send(pool, { path: '/b' }).done;
    assert.equal(rb.headers?.['x-poison'], undefined);
    assert.equal(rb.body.toString(), 'real /b on #1');
    assert.equal(heads(up.received[0]), 1);
  } finally {
    await pool.close();
    await up.close();
  }
});

test('an unsolicited response after a connection: close response: the queued request goes out on a fresh connection', async () => {
  const up = await rawServer(answering('HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\nfirst' + POISON));
  const { pool, ev } = newPool(up.port, { maxConnections: 1 });
  try {
    const a = send(pool, { path: '/a' });
    const b = send(pool, { path: '/b' });
    assert.equal((await a.done).body.toString(), 'first');
    const rb = await b.done;
    assert.equal(rb.headers?.['x-poison'], undefined);
    assert.equal(rb.body.toString(), 'real /b on #1');
    assert.equal(ev.connect, 2);
  } finally {
    await pool.close();
    await up.close();
  }
});
