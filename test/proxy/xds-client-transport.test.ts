/** The proxy's ADS call over node:http2 against a real HTTP/2 server on 127.0.0.1. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { AddressInfo } from 'node:net';
import { AdsChannel, type AdsCall } from '../../src/proxy/xds-client/xds-client-transport.js';

const enc = (s: string): Uint8Array => Buffer.from(s);
const dec = (b: Uint8Array): string => Buffer.from(b).toString();

function frame(s: string): Buffer {
  const body = Buffer.from(s);
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(body.length, 1);
  body.copy(f, 5);
  return f;
}

async function server(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void): Promise<{ address: string; close(): Promise<void> }> {
  const srv = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  srv.on('session', (s) => sessions.add(s));
  srv.on('stream', onStream);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      srv.close(() => r());
    }),
  };
}

function outcome(call: AdsCall<string, string>): Promise<{ data: string[]; errors: string[]; status: { code: number; details: string } }> {
  const data: string[] = [];
  const errors: string[] = [];
  call.on('data', (m: string) => data.push(m));
  call.on('error', (e: Error) => errors.push(e.message));
  return new Promise((resolve) => call.on('status', (status) => call.once('end', () => resolve({ data, errors, status }))));
}

test('messages are framed on the way out and reassembled across and within chunks on the way in; OK status ends the call without error', async () => {
  let seen: http2.IncomingHttpHeaders | undefined;
  const srv = await server((stream, headers) => {
    seen = headers;
    const got: Buffer[] = [];
    stream.on('data', (c: Buffer) => got.push(c));
    stream.on('end', () => {
      const all = Buffer.concat(got);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // echo: the two request messages back in one chunk, then a third split byte by byte
      stream.write(all);
      const third = frame('third');
      for (const b of third) stream.write(Buffer.from([b]));
      stream.end();
    });
  });
  const ch = new AdsChannel({ address: srv.address, keepaliveMs: 60_000, maxMessageBytes: 1024 });
  try {
    const call = ch.open('/svc/Method', enc, dec);
    const done = outcome(call);
    call.write('one');
    call.write('two');
    (call as unknown as { stream: http2.ClientHttp2Stream }).stream.end();
    const r = await done;
    assert.equal(seen?.[':path'], '/svc/Method');
    assert.equal(seen?.['content-type'], 'application/grpc');
    assert.equal(seen?.te, 'trailers');
    assert.deepEqual(r.data, ['one', 'two', 'third']);
    assert.deepEqual(r.errors, []);
    assert.equal(r.status.code, 0);
  } finally {
    ch.close();
    await srv.close();
  }
});

test('a non-OK grpc-status (trailers-only) is an error with its code and message', async () => {
  const srv = await server((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '7', 'grpc-message': 'not%20allowed' }, { endStream: true });
  });
  const ch = new AdsChannel({ address: srv.address, keepaliveMs: 60_000, maxMessageBytes: 1024 });
  try {
    const r = await outcome(ch.open('/svc/Method', enc, dec));
    assert.equal(r.status.code, 7);
    assert.match(r.errors[0], /grpc-status 7: not allowed/);
  } finally {
    ch.close();
    await srv.close();
  }
});

test('a status in trailers ends the call while the client\'s side is still open (a refused ADS stream is seen and retried)', async () => {
  // a grpc-js server failing a bidi call as the ADS server refuses a stream: status trailers,
  // END_STREAM, and the request side left to the client
  const srv = new grpc.Server();
  const id = (b: Buffer) => b;
  srv.addService({ Method: { path: '/svc/Method', requestStream: true, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } } as grpc.ServiceDefinition, {
    Method: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.once('data', () => call.emit('error', Object.assign(new Error('service account a is not b'), { code: grpc.status.PERMISSION_DENIED, details: 'service account a is not b' })));
    },
  });
  const port = await new Promise<number>((res, rej) => srv.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const ch = new AdsChannel({ address: `127.0.0.1:${port}`, keepaliveMs: 60_000, maxMessageBytes: 1024 });
  try {
    const call = ch.open('/svc/Method', enc, dec);
    call.write('hello'); // and never half-closed, as an ADS stream
    const r = await Promise.race([outcome(call), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('the call never ended')), 5000))]);
    assert.equal(r.status.code, grpc.status.PERMISSION_DENIED);
    assert.match(r.errors[0], /grpc-status 7: service account a is not b/);
  } finally {
    ch.close();
    srv.forceShutdown();
  }
});

test('a message over the size limit fails the call (CLEW_XDS_FRAME) instead of being buffered', async () => {
  const srv = await server((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' });
    stream.write(frame('x'.repeat(2000)));
  });
  const ch = new AdsChannel({ address: srv.address, keepaliveMs: 60_000, maxMessageBytes: 1024 });
  try {
    const call = ch.open('/svc/Method', enc, dec);
    const codes: string[] = [];
    call.on('error', (e: Error & { code?: string }) => codes.push(String(e.code)));
    const r = await outcome(call);
    assert.deepEqual(r.data, []);
    assert.deepEqual(codes, ['CLEW_XDS_FRAME']);
    assert.match(r.errors[0], /exceeds the limit of 1024/);
  } finally {
    ch.close();
    await srv.close();
  }
});

test('nothing listening: the call reports an error and ends (no throw), and a later call dials again', async () => {
  const srv = await server((stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
  });
  const address = srv.address;
  await srv.close();
  const ch = new AdsChannel({ address, keepaliveMs: 60_000, maxMessageBytes: 1024 });
  try {
    const r = await outcome(ch.open('/svc/Method', enc, dec));
    assert.notEqual(r.status.code, 0);
    assert.match(r.errors[0], /ECONNREFUSED|cancel/i);
    // the same port again, now served: a new connection is made
    const [host, port] = address.split(':');
    const srv2 = http2.createServer();
    srv2.on('stream', (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true }));
    await new Promise<void>((res, rej) => srv2.once('error', rej).listen(Number(port), host, res));
    try {
      const r2 = await outcome(ch.open('/svc/Method', enc, dec));
      assert.equal(r2.status.code, 0);
      assert.deepEqual(r2.errors, []);
    } finally {
      ch.close();
      await new Promise<void>((res) => srv2.close(() => res()));
    }
  } finally {
    ch.close();
  }
});
