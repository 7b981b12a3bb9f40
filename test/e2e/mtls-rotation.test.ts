/**
 * Certificate rotation under load, short form (issue 17, "Must show" 3; the 3-minute run with a 1m
 * TTL is bench/mtls-rotation.ts, figures in bench/RESULTS-mtls-rotation.md): a real control plane's
 * CA, two sidecars with mTLS between them asking for 10 s certificates, 50 rps through both for
 * 16 s with a new mTLS connection every 100 requests. Each sidecar rotates at least twice (serials
 * change in `clew proxy-config secret`), no request fails, and handshakes kept happening.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runRotation } from '../../bench/mtls-rotation.js';

test('rotation under load: ≥ 2 rotations per sidecar, zero failed requests', { timeout: 120_000 }, async () => {
  const r = await runRotation({ ttl: '10s', seconds: 16, rps: 50, connections: 4, maxRequestsPerConnection: 100, pollMs: 500 });
  assert.equal(r.failed, 0, `failed requests: ${JSON.stringify(r)}`);
  // the load really ran (a loaded machine may leave some due requests unsent at the end; none may fail)
  assert.ok(r.requests >= 16 * 50 * 0.5, `requests: ${r.requests}`);
  for (const side of ['client', 'server'] as const) {
    const serials = r.serials[side];
    assert.ok(serials.length >= 3, `${side}: ≥ 2 rotations, saw serials ${serials.join(', ')}`);
    assert.equal(new Set(serials).size, serials.length, `${side}: every rotation is a new certificate`);
    assert.match(r.cliTables[side], new RegExp(`^default\\s+Cert Chain\\s+ACTIVE\\s+true\\s+${serials.at(-1)}`, 'm'));
  }
  // a new connection every 100 requests: the handshakes on both sides of the hop, with certificates of several generations
  assert.ok(r.handshakes.client >= 6, `client handshakes: ${r.handshakes.client}`);
  assert.equal(r.handshakes.server, r.handshakes.client);
});
