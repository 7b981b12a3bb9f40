/** Listener parsing and filter chain selection (port, prefix ranges, app protocol, default chain). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListener, selectChain, type ListenerParseContext } from '../../../src/proxy/listener/listener-config.js';
import { ProxyConfigError } from '../../../src/proxy/core/errors.js';
import { NOOP_OBSERVER } from '../../../src/proxy/core/observer.js';
import { parsePerRouteFilterConfig } from '../../../src/proxy/filters/registry.js';
import { hcm, socketAddress, tcpProxy } from '../helpers/resources.js';

const ctx: ListenerParseContext = {
  rdsProvider: (name) => ({ name, config: undefined, version: '', raw: undefined, lastUpdated: undefined }),
  resolveCluster: (name) => ({ name, cluster: undefined }),
  perFilterParser: parsePerRouteFilterConfig,
  observer: NOOP_OBSERVER,
  bindOverride: (_n, address, port) => ({ address, port }),
  proxyAddress: '127.0.0.2',
};

test('filter chain selection: destination_port beats catch-all; prefix ranges pick by destination IP', () => {
  const l = parseListener({
    name: 'virtualInbound',
    address: socketAddress('0.0.0.0', 15006),
    filter_chains: [
      { name: 'p9080', filter_chain_match: { destination_port: { value: 9080 } }, filters: [hcm('inbound|9080||')] },
      { name: 'a', filter_chain_match: { prefix_ranges: [{ address_prefix: '10.0.0.1', prefix_len: { value: 32 } }] }, filters: [tcpProxy('A')] },
      { name: 'b', filter_chain_match: { prefix_ranges: [{ address_prefix: '10.1.0.0', prefix_len: { value: 16 } }] }, filters: [tcpProxy('B')] },
      { name: 'tls', filter_chain_match: { transport_protocol: 'tls' }, filters: [tcpProxy('T')] },
      { name: 'catchall', filters: [tcpProxy('InboundPassthroughCluster')] },
    ],
  }, ctx);
  assert.equal(l.direction, 'inbound');
  assert.equal(selectChain(l, 9080, undefined)?.name, 'p9080');
  assert.equal(selectChain(l, 1234, undefined, '10.0.0.1')?.name, 'a');
  assert.equal(selectChain(l, 1234, undefined, '10.1.7.7')?.name, 'b');
  assert.equal(selectChain(l, 1234, undefined, '192.168.0.1')?.name, 'catchall');
  assert.equal(selectChain(l, 1234, undefined)?.name, 'a');
});

test('application_protocols chains are chosen by sniffed protocol; default_filter_chain as fallback', () => {
  const l = parseListener({
    name: 'x',
    address: socketAddress('127.0.0.1', 1),
    filter_chains: [
      { name: 'http', filter_chain_match: { application_protocols: ['http/1.1', 'h2c'] }, filters: [hcm('r')] },
      { name: 'tcp', filter_chain_match: { destination_port: { value: 5 } }, filters: [tcpProxy('t')] },
    ],
    default_filter_chain: { name: 'dflt', filters: [tcpProxy('d')] },
  }, ctx);
  assert.equal(selectChain(l, 1, 'h2c')?.name, 'http');
  assert.equal(selectChain(l, 1, undefined)?.name, 'dflt');
  assert.equal(selectChain(l, 5, undefined)?.name, 'tcp');
});

test('invalid listeners are rejected with ProxyConfigError', () => {
  assert.throws(() => parseListener({ name: 'n', address: socketAddress('0.0.0.0', 1), filter_chains: [{ filters: [] }] }, ctx), ProxyConfigError);
  const noRouter = hcm('r', []);
  assert.throws(() => parseListener({ name: 'n', address: socketAddress('0.0.0.0', 1), filter_chains: [{ filters: [noRouter] }] }, ctx), /router/);
});

test('listener filters, filter-chain match fields and transport sockets the proxy does not implement are NACKed by name', () => {
  const base = (extra: Record<string, unknown>, chain: Record<string, unknown> = {}) => ({
    name: 'l',
    address: socketAddress('0.0.0.0', 15006),
    filter_chains: [{ name: 'c', filters: [tcpProxy('A')], ...chain }],
    ...extra,
  });
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [base({ listener_filters: [{ name: 'envoy.filters.listener.proxy_protocol', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.proxy_protocol.v3.ProxyProtocol' } }] }), /listener l: listener_filters\[0\] envoy\.filters\.listener\.proxy_protocol .*not implemented/],
    [base({}, { filter_chain_match: { address_suffix: 'x' } }), /filter chain c: filter_chain_match\.address_suffix: not implemented/],
    [base({}, { use_proxy_proto: true }), /filter chain c\.use_proxy_proto: not implemented/],
  ];
  for (const [l, re] of cases) {
    assert.throws(() => parseListener(l, ctx), (e: Error) => e instanceof ProxyConfigError && re.test(e.message), String(re));
  }
  // known listener filters and a raw_buffer transport socket are accepted
  parseListener(base({ listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }] }, { transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } }), ctx);
});
