/** Downstream protocols: HTTP/2 prior knowledge, gRPC, WebSocket, CONNECT tunnels, TCP, codec errors. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { WebSocketServer, WebSocket } from 'ws';
import { FAULT_TYPE } from '../../src/xds/type-urls.js';
import { assignment, edsCluster, faultFilter, outboundHttpListener, outboundTcpListener, passthroughCluster, route, routeConfig, routerFilter, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, viaProxy, type Harness } from './helpers/harness.js';
import { startEcho, startTcpEcho, type EchoServer } from './helpers/upstreams.js';
import { EchoClient, startGrpcEcho } from './helpers/grpc-echo.js';

const HTTP = 'outbound|9080||svc.default.svc.cluster.local';
const GRPC = 'outbound|9090||grpc.default.svc.cluster.local';
const WS = 'outbound|9080||ws.default.svc.cluster.local';
const TCP = 'outbound|9999||tcp.default.svc.cluster.local';
const EMPTY = 'outbound|9090||empty.default.svc.cluster.local';
let echo: EchoServer;
let grpcSrv: { port: number; close(): void };
let tcp: { port: number; close(): Promise<void> };
let wss: WebSocketServer;
let h: Harness;

before(async () => {
  echo = await startEcho('svc');
  grpcSrv = await startGrpcEcho();
  tcp = await startTcpEcho('echo:');
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (s) => s.on('message', (m) => s.send(`ws:${m.toString()}`)));
  await new Promise((r) => wss.once('listening', r));
  const wsPort = (wss.address() as net.AddressInfo).port;
  h = await startHarness({
    clusters: [edsCluster(HTTP), edsCluster(GRPC, { http2_protocol_options: {} }), edsCluster(EMPTY, { http2_protocol_options: {} }), staticCluster(WS, [['127.0.0.1', wsPort]]), staticCluster(TCP, [['127.0.0.1', tcp.port]]), passthroughCluster()],
    endpoints: [assignment(HTTP, [['127.0.0.1', echo.port]]), assignment(GRPC, [['127.0.0.1', grpcSrv.port]]), assignment(EMPTY, [])],
    listeners: [
      virtualOutbound(0),
      outboundHttpListener(9080),
      outboundHttpListener(9090, [faultFilter, routerFilter]),
      outboundTcpListener(9999, TCP),
    ],
    routes: [
      routeConfig('9080', [
        vhost('svc', ['svc:9080', 'svc'], [route({ prefix: '/' }, HTTP)]),
        vhost('ws', ['ws:9080'], [route({ prefix: '/' }, WS)]),
      ]),
      routeConfig('9090', [
        vhost('grpc', ['grpc:9090'], [
          route({ prefix: '/test.Echo/Echo', headers: [{ name: 'x-fault', present_match: true }] }, GRPC, {}, {
            typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': FAULT_TYPE, abort: { grpc_status: 8, percentage: { numerator: 100 } } } },
          }),
          route({ prefix: '/test.Echo/Echo', headers: [{ name: 'x-empty', present_match: true }] }, EMPTY),
          route({ prefix: '/' }, GRPC),
        ]),
      ]),
    ],
  });
});

after(async () => {
  await h.close();
  await echo.close();
  grpcSrv.close();
  await tcp.close();
  wss.close();
});

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-s', '-S', '--max-time', '5', ...args], (err, stdout, stderr) => (err ? reject(new Error(`${err.message} ${stderr}`)) : resolve(stdout))),
  );
}

function rawExchange(port: number, data: string, until: (s: string) => boolean = (s) => s.includes('\r\n\r\n')): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const t = setTimeout(() => {
      s.destroy();
      resolve(got);
    }, 2000);
    s.on('data', (d) => {
      got += d.toString();
      if (until(got)) {
        clearTimeout(t);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
    s.write(data);
  });
}

test('curl -x (absolute-form through the outbound listener)', async () => {
  const out = await curl(['-x', `http://127.0.0.1:${h.outbound}`, 'http://svc:9080/curl']);
  assert.equal(JSON.parse(out).url, '/curl');
});

test('HTTP/2 prior knowledge (curl --http2-prior-knowledge), routed by :authority', async () => {
  const out = await curl(['--http2-prior-knowledge', '-H', 'Host: svc:9080', '-w', '\\n%{http_version}', `http://127.0.0.1:${h.outbound}/h2`]);
  const [body, version] = out.split('\n');
  assert.equal(version, '2');
  assert.equal(JSON.parse(body).url, '/h2');
});

test('gRPC unary and server streaming through the proxy to an HTTP/2 cluster', async () => {
  const client = new EchoClient(`127.0.0.1:${h.outbound}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc:9090' });
  try {
    const reply = await new Promise<any>((res, rej) => (client as any).Echo({ msg: 'hi' }, (e: Error | null, v: unknown) => (e ? rej(e) : res(v))));
    assert.equal(reply.echo, 'hi');
    const err = await new Promise<grpc.ServiceError>((res) => (client as any).Echo({ fail: true }, (e: grpc.ServiceError) => res(e)));
    assert.equal(err.code, grpc.status.NOT_FOUND);
    assert.equal(err.details, 'nope');
    const items: number[] = [];
    await new Promise<void>((res, rej) => {
      const call = (client as any).Count({ n: 5 });
      call.on('data', (d: { i: number }) => items.push(d.i));
      call.on('end', res);
      call.on('error', rej);
    });
    assert.deepEqual(items, [0, 1, 2, 3, 4]);
  } finally {
    client.close();
  }
});

test('gRPC local replies are trailers-only: no healthy upstream -> UNAVAILABLE, fault abort -> its grpc status', async () => {
  const client = new EchoClient(`127.0.0.1:${h.outbound}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc:9090' });
  try {
    const md = (k: string): grpc.Metadata => {
      const m = new grpc.Metadata();
      m.set(k, '1');
      return m;
    };
    const e1 = await new Promise<grpc.ServiceError>((res) => (client as any).Echo({ msg: 'x' }, md('x-empty'), (e: grpc.ServiceError) => res(e)));
    assert.equal(e1.code, grpc.status.UNAVAILABLE);
    assert.equal(e1.details, 'no healthy upstream');
    const e2 = await new Promise<grpc.ServiceError>((res) => (client as any).Echo({ msg: 'x' }, md('x-fault'), (e: grpc.ServiceError) => res(e)));
    assert.equal(e2.code, grpc.status.RESOURCE_EXHAUSTED);
  } finally {
    client.close();
  }
});

test('WebSocket upgrade passes through', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${h.outbound}/chat`, { headers: { host: 'ws:9080' } });
  const msg = await new Promise<string>((resolve, reject) => {
    ws.on('open', () => ws.send('hello'));
    ws.on('message', (m) => resolve(m.toString()));
    ws.on('error', reject);
  });
  ws.close();
  assert.equal(msg, 'ws:hello');
});

test('CONNECT tunnel: HTTP inside is routed by the port listener; TCP goes to its TcpProxy', async () => {
  const out = await rawExchange(h.outbound, 'CONNECT svc:9080 HTTP/1.1\r\nHost: svc:9080\r\n\r\nGET /tunnel HTTP/1.1\r\nHost: svc:9080\r\n\r\n', (s) => s.includes('"url":"/tunnel"'));
  assert.match(out, /^HTTP\/1\.1 200/);
  assert.match(out, /"url":"\/tunnel"/);
  const tcpOut = await rawExchange(h.outbound, 'CONNECT tcp:9999 HTTP/1.1\r\nHost: tcp:9999\r\n\r\nping', (s) => s.includes('echo:ping'));
  assert.match(tcpOut, /echo:ping/);
  const viaCurl = await curl(['-p', '-x', `http://127.0.0.1:${h.outbound}`, 'http://svc:9080/curl-tunnel']);
  assert.equal(JSON.parse(viaCurl).url, '/curl-tunnel');
});

test('request smuggling shapes and bad framing get 400; oversized headers 431', async () => {
  const cases = [
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    'POST / HTTP/1.1\r\nHost: svc:9080\r\nTransfer-Encoding: chunked, identity\r\n\r\nabc',
    'GET / HTTP/1.1\r\nHost: svc:9080\r\nBad Header: x\r\n\r\n',
  ];
  for (const c of cases) {
    const out = await rawExchange(h.outbound, c);
    assert.match(out, /^HTTP\/1\.1 400/, JSON.stringify(c));
  }
  const big = await rawExchange(h.outbound, `GET / HTTP/1.1\r\nHost: svc:9080\r\nx-big: ${'a'.repeat(70 * 1024)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431/);
  // the same shapes inside a CONNECT tunnel are judged by the port listener's codec
  const tunnelled = await rawExchange(h.outbound, `CONNECT svc:9080 HTTP/1.1\r\nHost: svc:9080\r\n\r\n${cases[0]}`, (s) => /HTTP\/1\.1 400/.test(s));
  assert.match(tunnelled, /HTTP\/1\.1 400/);
});

test('HTTP/1.1 keep-alive and chunked request bodies', async () => {
  const out = await rawExchange(
    h.outbound,
    'POST /a HTTP/1.1\r\nHost: svc:9080\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: svc:9080\r\n\r\n',
    (s) => s.includes('"url":"/b"'),
  );
  assert.match(out, /"body":"abc"/);
  assert.match(out, /"url":"\/b"/);
  const r = await viaProxy(h.outbound, 'http://svc:9080/post', { method: 'POST', body: 'xyz', headers: { 'content-length': '3' } });
  assert.equal(JSON.parse(r.body).body, 'xyz');
});
