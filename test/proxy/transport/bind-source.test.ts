/**
 * Upstream source addresses: upstream_bind_config binds every connection; in local mode a
 * sidecar's connections to loopback addresses (other pods on this machine) leave from its pod's
 * address, so the peer sees the caller's pod address (AuthorizationPolicy ipBlocks, source.ip).
 * Real sockets on loopback: the server reports the address each connection came from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { bindSource, isLoopbackV4 } from '../../../src/proxy/transport/transport-registry.js';
import { RAW_BUFFER } from '../../../src/proxy/transport/raw-buffer.js';

/** A server on `host` that records the remote address of each connection. */
async function server(host: string): Promise<{ port: number; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const srv = net.createServer((s) => {
    seen.push(s.remoteAddress ?? '');
    s.destroy();
  });
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return { port: (srv.address() as net.AddressInfo).port, seen, close: () => srv.close() };
}

function connectOnce(t: typeof RAW_BUFFER, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = t.connect(host, port, {});
    s.on('error', reject);
    s.on('close', () => resolve());
    s.on('connect', () => s.end());
  });
}

test('isLoopbackV4: 127.0.0.0/8 literals only', () => {
  assert.equal(isLoopbackV4('127.0.0.1'), true);
  assert.equal(isLoopbackV4('127.0.137.9'), true);
  assert.equal(isLoopbackV4('10.0.0.1'), false);
  assert.equal(isLoopbackV4('localhost'), false);
  assert.equal(isLoopbackV4('::1'), false);
});

test('without a bind config the transport is unchanged; connections leave from the default address', async () => {
  assert.equal(bindSource(RAW_BUFFER, undefined, undefined), RAW_BUFFER);
  const srv = await server('127.0.0.1');
  try {
    await connectOnce(RAW_BUFFER, '127.0.0.1', srv.port);
    assert.deepEqual(srv.seen, ['127.0.0.1']);
  } finally {
    srv.close();
  }
});

test('a pod address is bound for connections to loopback addresses', async () => {
  const srv = await server('127.0.0.1');
  try {
    await connectOnce(bindSource(RAW_BUFFER, undefined, '127.0.137.9'), '127.0.0.1', srv.port);
    assert.deepEqual(srv.seen, ['127.0.137.9'], 'the peer sees the pod address');
  } finally {
    srv.close();
  }
});

test('upstream_bind_config wins over the pod address', async () => {
  const srv = await server('127.0.0.1');
  try {
    await connectOnce(bindSource(RAW_BUFFER, '127.0.0.6', '127.0.137.9'), '127.0.0.1', srv.port);
    assert.deepEqual(srv.seen, ['127.0.0.6']);
  } finally {
    srv.close();
  }
});
