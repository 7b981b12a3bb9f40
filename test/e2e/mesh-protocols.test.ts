/**
 * Every protocol through both sidecars, configured by Clew's real control plane:
 * client -> client sidecar (its HTTP_PROXY, 127.0.x.y:15001) -> server sidecar (the workload's
 * port on the server pod's address) -> app. One Service, Istio port naming: http-web (HTTP/1.1),
 * http2-h2c (h2c), grpc-echo (gRPC), http-ws (WebSocket upgrade), tcp-echo (raw TCP).
 * Each test also checks the server's sidecar counted the request (it did not bypass it).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ProxyAgent, request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { echoDefinition, startEchoServer, type EchoServer } from '../helpers/echo-grpc.js';
import {
  connectTunnel, curl, planSidecar, startControlPlane, startSidecar, tempDir, TunnelAgent, waitFor,
  type ControlPlaneProc, type Sidecar,
} from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '61';

const PORTS = { web: 8080, h2c: 8081, grpc: 7070, ws: 8082, tcp: 9000 };
const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports:
  - {name: http-web, port: ${PORTS.web}, targetPort: ${PORTS.web}}
  - {name: http2-h2c, port: ${PORTS.h2c}, targetPort: ${PORTS.h2c}}
  - {name: grpc-echo, port: ${PORTS.grpc}, targetPort: ${PORTS.grpc}}
  - {name: http-ws, port: ${PORTS.ws}, targetPort: ${PORTS.ws}}
  - {name: tcp-echo, port: ${PORTS.tcp}, targetPort: ${PORTS.tcp}}
`;

interface Seen {
  httpVersion: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  remote: string;
}

let cp: ControlPlaneProc;
let client: Sidecar;
let server: Sidecar;
const servers: Array<{ close(): unknown }> = [];
let grpcServer: EchoServer;
let Echo: any;

function listen(srv: net.Server, host: string): Promise<number> {
  return new Promise((resolve) => srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port)));
}

function seen(req: http.IncomingMessage | http2.Http2ServerRequest): string {
  const s: Seen = { httpVersion: req.httpVersion, url: req.url ?? '', headers: req.headers as http.IncomingHttpHeaders, remote: req.socket.remoteAddress ?? '' };
  return JSON.stringify(s);
}

before(async () => {
  const stateDir = tempDir('clew-e2e-protocols-state-');
  const configDir = tempDir('clew-e2e-protocols-config-');
  writeFileSync(join(configDir, 'echo.yaml'), SERVICE);
  cp = await startControlPlane(configDir);

  const serverPlan = await planSidecar({ name: 'echo', labels: { app: 'echo', version: 'v1' }, ports: Object.values(PORTS), xdsAddress: cp.xdsAddress, stateDir });
  const host = serverPlan.address;
  // the apps, on the server pod's address
  const web = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(seen(req)));
  });
  const h2c = http2.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(seen(req)));
  const wsHttp = http.createServer((_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: wsHttp });
  wss.on('connection', (s, req) => {
    s.send(`hello ${req.headers['x-request-id'] ? 'with' : 'without'} x-request-id`);
    s.on('message', (m) => s.send(`ws:${m.toString()}`));
  });
  const tcp = net.createServer((s) => s.on('data', (d) => s.write(`tcp:${d.toString()}`)));
  servers.push(web, h2c, wsHttp, tcp, { close: () => wss.close() });
  grpcServer = await startEchoServer('echo-v1', host);
  Echo = echoDefinition().Echo;
  const appPorts = {
    [PORTS.web]: await listen(web, host),
    [PORTS.h2c]: await listen(h2c, host),
    [PORTS.grpc]: grpcServer.port,
    [PORTS.ws]: await listen(wsHttp, host),
    [PORTS.tcp]: await listen(tcp, host),
  };
  const clientPlan = await planSidecar({ name: 'client', labels: { app: 'client' }, xdsAddress: cp.xdsAddress, stateDir });
  [server, client] = await Promise.all([startSidecar(serverPlan, appPorts), startSidecar(clientPlan)]);
  // the client's sidecar knows the server's endpoint once the server's sidecar registered it
  await waitFor(async () => {
    try {
      const out = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-x', client.outboundUrl, `http://echo:${PORTS.web}/`]);
      return out === '200';
    } catch {
      return false;
    }
  }, 20_000, 'the echo service to answer through the mesh');
}, { timeout: 60_000 });

after(async () => {
  grpcServer?.stop();
  for (const s of servers) s.close();
});

/** the server sidecar's inbound cluster counter for a port (requests or connections) */
function inboundStat(port: number, stat: 'upstream_rq_total' | 'upstream_cx_total'): Promise<number> {
  return server.stat(`cluster.inbound|${port}||.${stat}`);
}

async function throughServerSidecar<T>(port: number, stat: 'upstream_rq_total' | 'upstream_cx_total', fn: () => Promise<T>): Promise<T> {
  const before = await inboundStat(port, stat);
  const r = await fn();
  await waitFor(async () => (await inboundStat(port, stat)) > before, 3000, `the server sidecar's inbound|${port}|| ${stat} to grow`);
  return r;
}

test('HTTP/1.1 with curl (absolute-form through HTTP_PROXY): both sidecars add their headers', async () => {
  const out = await throughServerSidecar(PORTS.web, 'upstream_rq_total', () =>
    curl(['-x', client.outboundUrl, '-D', '-', `http://echo:${PORTS.web}/curl?q=1`]));
  const [head, body] = out.split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, /x-envoy-upstream-service-time: \d+/i);
  const s = JSON.parse(body) as Seen;
  assert.equal(s.httpVersion, '1.1');
  assert.equal(s.url, '/curl?q=1');
  assert.equal(s.headers.host, `echo:${PORTS.web}`);
  assert.match(String(s.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.equal(s.headers['x-forwarded-proto'], 'http');
});

test('HTTP/1.1 with undici: CONNECT tunnel (ProxyAgent default) and absolute-form (proxyTunnel: false)', async () => {
  for (const proxyTunnel of [true, false]) {
    const dispatcher = new ProxyAgent({ uri: client.outboundUrl, proxyTunnel });
    try {
      const bodies = await throughServerSidecar(PORTS.web, 'upstream_rq_total', async () => {
        const out: Seen[] = [];
        for (let i = 0; i < 5; i++) {
          const res = await request(`http://echo:${PORTS.web}/undici/${i}`, { dispatcher, method: 'POST', body: 'x'.repeat(1000) });
          assert.equal(res.statusCode, 200, `proxyTunnel ${proxyTunnel}`);
          out.push((await res.body.json()) as Seen);
        }
        return out;
      });
      assert.deepEqual(bodies.map((b) => b.url), [0, 1, 2, 3, 4].map((i) => `/undici/${i}`));
      for (const b of bodies) assert.ok(b.headers['x-request-id'], `proxyTunnel ${proxyTunnel}: x-request-id reached the app`);
    } finally {
      await dispatcher.close();
    }
  }
});

test('h2c with curl --http2-prior-knowledge, on an http2- port: HTTP/2 on every hop', async () => {
  const variants: Array<[string, string[]]> = [
    // through a CONNECT tunnel (-p): to a plain HTTP proxy curl would speak HTTP/1.1
    ['CONNECT tunnel', ['-p', '-x', client.outboundUrl]],
    // straight to the outbound port, as interception would deliver it: routed by :authority
    ['intercepted', ['--connect-to', `echo:${PORTS.h2c}:${client.outbound.host}:${client.outbound.port}`]],
  ];
  for (const [how, args] of variants) {
    const out = await throughServerSidecar(PORTS.h2c, 'upstream_rq_total', () =>
      curl(['--http2-prior-knowledge', ...args, '-w', '\n%{http_version}', `http://echo:${PORTS.h2c}/h2?x=y`]));
    const [body, version] = out.split('\n');
    assert.equal(version, '2', `${how}: curl spoke HTTP/2 to the client sidecar`);
    const s = JSON.parse(body) as Seen;
    assert.equal(s.httpVersion, '2.0', `${how}: the app got HTTP/2 from the server sidecar`);
    assert.equal(s.url, '/h2?x=y');
    assert.equal(s.headers[':authority'], `echo:${PORTS.h2c}`);
    assert.ok(s.headers['x-request-id'], how);
  }
});

function grpcClient(): any {
  // grpc-js honours http_proxy (as `clew run` sets it for its app) with a CONNECT tunnel
  const saved = { http_proxy: process.env.http_proxy, grpc_proxy: process.env.grpc_proxy };
  process.env.http_proxy = client.outboundUrl;
  delete process.env.grpc_proxy;
  try {
    return new Echo(`echo:${PORTS.grpc}`, grpc.credentials.createInsecure());
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('gRPC unary and server streaming with @grpc/grpc-js (http_proxy)', async () => {
  const c = grpcClient();
  try {
    const calls = grpcServer.calls;
    const reply = await throughServerSidecar(PORTS.grpc, 'upstream_rq_total', () =>
      new Promise<any>((resolve, reject) =>
        c.Say({ message: 'hi' }, { deadline: Date.now() + 5000 }, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))),
      ));
    assert.deepEqual({ message: reply.message, server: reply.server }, { message: 'hi', server: 'echo-v1' });
    const items = await throughServerSidecar(PORTS.grpc, 'upstream_rq_total', () =>
      new Promise<string[]>((resolve, reject) => {
        const got: string[] = [];
        const call = c.Stream({ message: 'n', count: 5 }, { deadline: Date.now() + 5000 });
        call.on('data', (d: { message: string }) => got.push(d.message));
        call.on('end', () => resolve(got));
        call.on('error', reject);
      }));
    assert.deepEqual(items, ['n-0', 'n-1', 'n-2', 'n-3', 'n-4']);
    assert.equal(grpcServer.calls, calls + 2);
  } finally {
    c.close();
  }
});

test('WebSocket echo with ws (CONNECT-tunnelling agent): the upgrade passes both sidecars', async () => {
  const ws = new WebSocket(`ws://echo:${PORTS.ws}/chat`, { agent: new TunnelAgent(client.outbound) });
  const got: string[] = [];
  await throughServerSidecar(PORTS.ws, 'upstream_rq_total', () =>
    new Promise<void>((resolve, reject) => {
      ws.on('message', (m) => {
        got.push(m.toString());
        if (got.length === 1) ws.send('one');
        else if (got.length === 2) ws.send('two');
        else resolve();
      });
      ws.on('error', reject);
    }));
  ws.close();
  assert.deepEqual(got, ['hello with x-request-id', 'ws:one', 'ws:two']);
});

test('raw TCP echo through a CONNECT tunnel to a tcp- port', async () => {
  const sock = await throughServerSidecar(PORTS.tcp, 'upstream_cx_total', async () => {
    const s = await connectTunnel(client.outbound, `echo:${PORTS.tcp}`);
    const replies: string[] = [];
    for (const msg of ['ping', 'pong']) {
      s.write(msg);
      replies.push(await new Promise<string>((resolve) => s.once('data', (d: Buffer) => resolve(d.toString()))));
    }
    assert.deepEqual(replies, ['tcp:ping', 'tcp:pong']);
    return s;
  });
  sock.end();
  await new Promise((r) => sock.once('close', r));
});
