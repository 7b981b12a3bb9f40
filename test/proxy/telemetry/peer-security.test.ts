/** mTLS peers in Istio's metrics (peer-security.ts): peer objects reused per principal, the caches bounded and their overflow counted. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DownstreamTlsInfo } from '../../../src/proxy/core/connection-context.js';
import { newStreamInfo } from '../../../src/proxy/core/stream-info.js';
import { applyPeerSecurity } from '../../../src/proxy/telemetry/peer-security.js';
import { overflowCounter } from '../../../src/stats/stats-overflow.js';

const tlsFrom = (principal: string): DownstreamTlsInfo =>
  ({ sni: '', alpn: '', peerPrincipal: principal, peerUris: [principal], peerCertHash: 'ab', peerSubject: '' }) as unknown as DownstreamTlsInfo;

function inbound(principal: string) {
  const info = newStreamInfo('inbound', 'HTTP/1.1');
  applyPeerSecurity(info, tlsFrom(principal));
  return info;
}

test('the same principal yields the same peer object; unique principals stop at the bound and are counted', () => {
  const a = inbound('spiffe://cluster.local/ns/default/sa/a');
  const b = inbound('spiffe://cluster.local/ns/default/sa/a');
  assert.equal(a.connectionSecurityPolicy, 'mutual_tls');
  assert.equal(a.peer?.principal, 'spiffe://cluster.local/ns/default/sa/a');
  assert.equal(a.peer, b.peer, 'reused: metrics key their label sets by peer object');
  const overflow = overflowCounter('peer_principal_cache');
  const before = overflow.value;
  // client-chosen principals (any certificate the trust bundle accepts): 1024 kept, then cleared
  for (let i = 0; i < 2100; i++) inbound(`spiffe://cluster.local/ns/default/sa/u${i}`);
  assert.equal(overflow.value - before, 2, 'cleared twice for 2100 new principals past a bound of 1024');
});
