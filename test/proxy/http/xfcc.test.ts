import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { applyXfcc, parseXfcc, XFCC } from '../../../src/proxy/http/xfcc.js';
import type { DownstreamTlsInfo } from '../../../src/proxy/core/connection-context.js';
import type { HeaderMap } from '../../../src/proxy/core/header-map.js';

function tlsInfo(peer: string, hash: string): DownstreamTlsInfo {
  return {
    sni: '', alpn: 'istio-http/1.1', peerPrincipal: peer, peerUris: [peer], peerCertHash: hash, peerSubject: '',
    peerDns: ['a.example'], peerCertPem: undefined, peerChainPem: undefined, localPrincipal: 'spiffe://cluster.local/ns/default/sa/server', version: 'TLSv1.3',
  };
}

test('SANITIZE_SET: the element per connection, the same on every request, the client-sent value replaced', () => {
  const istio = parseXfcc({ forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { subject: { value: true }, uri: true, dns: true } });
  const a = tlsInfo('spiffe://cluster.local/ns/default/sa/a', 'aa');
  const b = tlsInfo('spiffe://cluster.local/ns/default/sa/b', 'bb');
  const want = (t: DownstreamTlsInfo) => `By=spiffe://cluster.local/ns/default/sa/server;Hash=${t.peerCertHash};Subject="";URI=${t.peerPrincipal};DNS=a.example`;
  for (let i = 0; i < 3; i++) {
    for (const t of [a, b]) {
      const h: HeaderMap = { [XFCC]: 'By=forged' };
      applyXfcc(istio, h, t);
      assert.equal(h[XFCC], want(t));
    }
  }
  // another HCM's settings on the same connection get their own element
  const uriOnly = parseXfcc({ forward_client_cert_details: 'APPEND_FORWARD', set_current_client_cert_details: { uri: true } });
  const h: HeaderMap = { [XFCC]: 'By=earlier' };
  applyXfcc(uriOnly, h, a);
  assert.equal(h[XFCC], `By=earlier,By=spiffe://cluster.local/ns/default/sa/server;Hash=aa;URI=${a.peerPrincipal}`);
  const h2: HeaderMap = { [XFCC]: 'x' };
  applyXfcc(istio, h2, a);
  assert.equal(h2[XFCC], want(a));
  // plaintext: sanitized
  const p: HeaderMap = { [XFCC]: 'By=forged' };
  applyXfcc(istio, p, undefined);
  assert.equal(p[XFCC], undefined);
});
