/**
 * The cipher list of Clew's TLS contexts: with none configured, TLS 1.3 offers BoringSSL's order
 * on AES hardware (Envoy's): AES-128-GCM first, then AES-256-GCM and ChaCha20-Poly1305, all
 * still accepted (a TLS 1.3 server picks by its own order); configured cipher_suites are used as given.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { parseCommonTlsContext } from '../../../src/proxy/transport/tls-config.js';
import { DEFAULT_CIPHERS, TlsContext } from '../../../src/proxy/transport/tls-context.js';
import type { SecretProvider } from '../../../src/proxy/secret/secret-types.js';
import { makePki, spiffe, type TestPki } from '../../helpers/test-pki.js';

const noSecrets: SecretProvider = { get: () => undefined, watch: () => () => undefined };
let pki: TestPki;
let server: { key: string; cert: string };

before(() => {
  pki = makePki();
  const root = pki.ca('root');
  server = root.leaf('server', [spiffe('default', 'server')]);
});
after(() => pki.cleanup());

/**
 * A handshake from a client made with `ctx` (or offering `clientCiphers`) to a node server offering
 * `serverCiphers` (node's default list if undefined); the negotiated suite.
 */
async function negotiated(ctx: tls.SecureContext | string, serverCiphers?: string, maxVersion: tls.SecureVersion = 'TLSv1.3'): Promise<string> {
  const srv = tls.createServer({ key: server.key, cert: server.cert, ...(serverCiphers ? { ciphers: serverCiphers } : {}), maxVersion }, (s) => s.end());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  try {
    return await new Promise<string>((resolve, reject) => {
      const c = tls.connect({ port: (srv.address() as net.AddressInfo).port, host: '127.0.0.1', ...(typeof ctx === 'string' ? { ciphers: ctx } : { secureContext: ctx }), rejectUnauthorized: false }, () => {
        resolve(c.getCipher().standardName);
        c.destroy();
      });
      c.on('error', reject);
    });
  } finally {
    srv.close();
  }
}

function context(tlsParams?: Record<string, unknown>): tls.SecureContext {
  const common = parseCommonTlsContext({ ...(tlsParams ? { tls_params: tlsParams } : {}) }, 'test');
  const ctx = new TlsContext(common, noSecrets).current();
  assert.notEqual(typeof ctx, 'string', String(ctx));
  return ctx as tls.SecureContext;
}

test('default list: TLS 1.3 suites in BoringSSL order first, the rest of node\'s list unchanged', () => {
  const list = DEFAULT_CIPHERS.split(':');
  assert.deepEqual(list.slice(0, 3), ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);
  assert.deepEqual([...list].sort(), [...tls.DEFAULT_CIPHERS.split(':')].sort());
  assert.deepEqual(list.slice(3), tls.DEFAULT_CIPHERS.split(':').filter((c) => !c.startsWith('TLS_')));
});

test('two default contexts negotiate AES-128-GCM; every other TLS 1.3 suite still works both ways', async () => {
  const ctx = context();
  assert.equal(await negotiated(ctx, DEFAULT_CIPHERS), 'TLS_AES_128_GCM_SHA256');
  // a server with node's own order picks AES-256-GCM, as before
  assert.equal(await negotiated(ctx), 'TLS_AES_256_GCM_SHA384');
  assert.equal(await negotiated(ctx, 'TLS_CHACHA20_POLY1305_SHA256'), 'TLS_CHACHA20_POLY1305_SHA256');
  // as the server: clients offering only one of the others are served
  assert.equal(await negotiated('TLS_AES_256_GCM_SHA384', DEFAULT_CIPHERS), 'TLS_AES_256_GCM_SHA384');
  assert.equal(await negotiated('TLS_CHACHA20_POLY1305_SHA256', DEFAULT_CIPHERS), 'TLS_CHACHA20_POLY1305_SHA256');
  // TLS 1.2 keeps node's list (ECDHE-RSA-AES128-GCM-SHA256 first)
  assert.equal(await negotiated(ctx, undefined, 'TLSv1.2'), 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256');
});

test('configured cipher_suites (TLS <= 1.2) are used as given', async () => {
  const ctx = context({ tls_maximum_protocol_version: 'TLSv1_2', cipher_suites: ['ECDHE-RSA-AES256-GCM-SHA384'] });
  assert.equal(await negotiated(ctx, undefined, 'TLSv1.2'), 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
});
