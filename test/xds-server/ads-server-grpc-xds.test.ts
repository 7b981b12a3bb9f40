/**
 * The real @grpc/grpc-js-xds client against our ADS server: a call through
 * xds:///svc.default.svc.cluster.local:7070 must reach a local grpc-js server, which proves the
 * wire format of LDS (api_listener), RDS, CDS (EDS cluster) and EDS responses.
 * Isolated in its own file: grpc-js-xds keeps one global xDS client per process.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import { AdsServer } from '../../src/xds-server/ads-server.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, HCM_TYPE, LISTENER_TYPE, ROUTER_TYPE, ROUTE_TYPE } from '../../src/xds/type-urls.js';
import { TestSource, until } from './ads-test-client.js';

const require = createRequire(import.meta.url);
const TARGET = 'svc.default.svc.cluster.local:7070';
const CLUSTER = 'outbound|7070||svc.default.svc.cluster.local';
const METHOD = '/clew.test.Echo/Echo';
const ident = (b: Buffer): Buffer => b;

let echo: grpc.Server;
let echo2: grpc.Server;
let echo2Port: number;
let ads: AdsServer;
let source: TestSource;
const nacks: unknown[][] = [];
const acks: string[] = [];

function serveResources(echoPort: number): void {
  source.set(LISTENER_TYPE, [{
    name: TARGET,
    api_listener: {
      api_listener: {
        '@type': HCM_TYPE,
        rds: { route_config_name: 'route-7070', config_source: { ads: {}, resource_api_version: 'V3' } },
        http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
      },
    },
  }]);
  source.set(ROUTE_TYPE, [{
    name: 'route-7070',
    virtual_hosts: [{ name: TARGET, domains: [TARGET, 'svc.default.svc.cluster.local'], routes: [{ match: { prefix: '' }, route: { cluster: CLUSTER } }] }],
  }]);
  source.set(CLUSTER_TYPE, [{
    name: CLUSTER,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: CLUSTER },
    lb_policy: 'ROUND_ROBIN',
    connect_timeout: { seconds: 1 },
  }]);
  source.set(ENDPOINT_TYPE, [{
    cluster_name: CLUSTER,
    endpoints: [{
      locality: {},
      load_balancing_weight: { value: 1 },
      lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echoPort } } }, load_balancing_weight: { value: 1 } }],
    }],
  }]);
}

async function echoServer(prefix: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService({
    Echo: { path: METHOD, requestStream: false, responseStream: false, requestSerialize: ident, requestDeserialize: ident, responseSerialize: ident, responseDeserialize: ident },
  } as grpc.ServiceDefinition, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from(prefix), call.request])),
  });
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  return { server, port };
}

function call(client: grpc.Client, text: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(METHOD, ident, ident, Buffer.from(text), { deadline: Date.now() + 8000 }, (err, value) => (err ? reject(err) : resolve(value!.toString())));
  });
}

before(async () => {
  const e1 = await echoServer('echo:');
  const e2 = await echoServer('echo2:');
  echo = e1.server;
  echo2 = e2.server;
  echo2Port = e2.port;
  const echoPort = e1.port;
  source = new TestSource();
  serveResources(echoPort);
  ads = new AdsServer(source);
  ads.on('nack', (...a: unknown[]) => nacks.push(a.slice(1)));
  ads.on('ack', (_s: unknown, typeUrl: string) => acks.push(typeUrl));
  const adsPort = await ads.listen('127.0.0.1', 0);
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    node: { id: 'sidecar~127.0.0.1~client.default~default.svc.cluster.local', locality: {} },
    xds_servers: [{ server_uri: `127.0.0.1:${adsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
  });
  require('@grpc/grpc-js-xds').register();
});

after(async () => {
  await ads.close();
  echo.forceShutdown();
  echo2.forceShutdown();
});

test('a grpc-js-xds client resolves xds:/// through our LDS/RDS/CDS/EDS and its call succeeds', async () => {
  const client = new grpc.Client(`xds:///${TARGET}`, grpc.credentials.createInsecure());
  try {
    assert.equal(await call(client, 'hi'), 'echo:hi');
    assert.deepEqual(nacks, []);
    // All four types were accepted (ACKed) by the strict client.
    await until(() => [LISTENER_TYPE, ROUTE_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE].every((t) => acks.includes(t)), 5000);
    const st = ads.streams();
    assert.equal(st.length, 1);
    assert.equal(st[0].stream.node?.id, 'sidecar~127.0.0.1~client.default~default.svc.cluster.local');
    const lds = st[0].types.find((t) => t.typeUrl === LISTENER_TYPE)!;
    assert.deepEqual(lds.subscribed, [TARGET]);
    assert.equal(lds.ackedVersion, lds.sentVersion);
    // No request/response ping-pong once everything is ACKed.
    const nonces = st[0].types.map((t) => t.sentNonce);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(ads.streams()[0].types.map((t) => t.sentNonce), nonces);

    // A push moving the endpoint is followed by the client.
    const eds = source.data.get(ENDPOINT_TYPE)!.get(CLUSTER)!;
    source.put(ENDPOINT_TYPE, {
      ...eds,
      endpoints: [{ ...eds.endpoints[0], lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: echo2Port } } } }] }],
    });
    await ads.push({ reason: 'endpoint moved' });
    const deadline = Date.now() + 5000;
    let last = '';
    while (Date.now() < deadline && (last = await call(client, 'x')) !== 'echo2:x') await new Promise((r) => setTimeout(r, 20));
    assert.equal(last, 'echo2:x');
    await until(() => {
      const e = ads.streams()[0].types.find((t) => t.typeUrl === ENDPOINT_TYPE)!;
      return e.ackedVersion === e.sentVersion;
    });
    assert.deepEqual(nacks, []);
  } finally {
    client.close();
  }
});
