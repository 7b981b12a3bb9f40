import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocolForKubePort, protocolFromPortName } from '../../src/registry/index.js';

test('port names select the protocol as <protocol>[-suffix]', () => {
  const cases: [string | undefined, string][] = [
    ['http', 'HTTP'], ['http-web', 'HTTP'], ['http2', 'HTTP2'], ['http2-foo', 'HTTP2'], ['http2foo', 'TCP'],
    ['grpc', 'GRPC'], ['grpc-web', 'GRPC-Web'], ['grpc-web-x', 'GRPC-Web'], ['grpc-x', 'GRPC'], ['mongo', 'Mongo'],
    ['redis', 'Redis'], ['mysql', 'MySQL'], ['tcp', 'TCP'], ['tls', 'TLS'], ['udp', 'UDP'], ['https', 'HTTPS'],
    ['HTTP', 'HTTP'], [undefined, 'TCP'], ['', 'TCP'], ['web', 'TCP'], ['httpx', 'TCP'],
  ];
  for (const [name, want] of cases) assert.equal(protocolFromPortName(name), want, `name ${name}`);
});

test('appProtocol wins over the name; protocol UDP marks UDP', () => {
  assert.equal(protocolForKubePort({ name: 'tcp-x', appProtocol: 'http' }), 'HTTP');
  assert.equal(protocolForKubePort({ name: 'web', appProtocol: 'grpc' }), 'GRPC');
  assert.equal(protocolForKubePort({ name: 'http', appProtocol: 'bogus' }), 'HTTP');
  assert.equal(protocolForKubePort({ name: 'dns', protocol: 'UDP' }), 'UDP');
});
