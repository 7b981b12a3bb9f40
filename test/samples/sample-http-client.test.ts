import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { sampleRequest, closeSampleAgents, SampleHttpError } from '../../samples/common/sample-http-client.js';
import { bypassesProxy, proxyFromEnv } from '../../src/load/load-proxy-env.js';
import { forwardedHeaders } from '../../samples/common/sample-headers.js';
import { close, listen, startTestMesh } from './sample-test-mesh.js';

const servers: http.Server[] = [];
after(async () => {
  closeSampleAgents();
  await Promise.all(servers.map(close));
});

test('proxyFromEnv reads lower-case first and splits NO_PROXY', () => {
  assert.equal(proxyFromEnv({}), undefined);
  assert.deepEqual(proxyFromEnv({ HTTP_PROXY: 'http://127.0.0.1:15001', NO_PROXY: 'localhost, .svc ,Example.com:8080' }), {
    host: '127.0.0.1', port: 15001, noProxy: ['localhost', '.svc', 'example.com:8080'],
  });
  assert.equal(proxyFromEnv({ HTTP_PROXY: 'http://a:1', http_proxy: 'b:2' })!.host, 'b');
});

test('NO_PROXY matching: exact, suffix, port, wildcard', () => {
  assert.ok(bypassesProxy('localhost', 80, ['localhost']));
  assert.ok(bypassesProxy('reviews.default.svc', 9080, ['.svc']));
  assert.ok(bypassesProxy('a.example.com', 1, ['example.com']));
  assert.ok(!bypassesProxy('badexample.com', 1, ['example.com']));
  assert.ok(bypassesProxy('example.com', 8080, ['example.com:8080']));
  assert.ok(!bypassesProxy('example.com', 80, ['example.com:8080']));
  assert.ok(bypassesProxy('anything', 80, ['*']));
  assert.ok(!bypassesProxy('reviews', 9080, []));
});

test('via a proxy the request is absolute-form with the destination Host', async () => {
  const mesh = await startTestMesh();
  mesh.route('reviews', (req, res) => { res.writeHead(200); res.end(`hello ${req.headers.host}`); });
  const res = await sampleRequest('http://reviews:9080/reviews/0?x=1', { timeoutMs: 2000, proxy: mesh.proxy, headers: { 'end-user': 'u' } });
  assert.equal(res.status, 200);
  assert.equal(res.body, 'hello reviews:9080');
  assert.equal(mesh.calls[0].url, 'http://reviews:9080/reviews/0?x=1');
  assert.equal(mesh.calls[0].headers['end-user'], 'u');
  closeSampleAgents();
  await mesh.close();
});

test('without a proxy, or when NO_PROXY matches, it connects directly', async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => { seen.push(req.url ?? ''); res.end('direct'); });
  servers.push(server);
  const port = await listen(server);
  assert.equal((await sampleRequest(`http://127.0.0.1:${port}/a`, { timeoutMs: 2000, proxy: null })).body, 'direct');
  const bypass = { host: '127.0.0.1', port: 1, noProxy: ['127.0.0.1'] };
  assert.equal((await sampleRequest(`http://127.0.0.1:${port}/b`, { timeoutMs: 2000, proxy: bypass })).body, 'direct');
  assert.deepEqual(seen, ['/a', '/b']);
});

test('a slow answer fails with SAMPLE_HTTP_TIMEOUT within the timeout', async () => {
  const server = http.createServer((_req, res) => { const t = setTimeout(() => res.end(), 3000); res.on('close', () => clearTimeout(t)); });
  servers.push(server);
  const port = await listen(server);
  const t0 = Date.now();
  await assert.rejects(sampleRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 150, proxy: null }),
    (e: unknown) => e instanceof SampleHttpError && e.code === 'SAMPLE_HTTP_TIMEOUT');
  assert.ok(Date.now() - t0 < 1000);
});

test('a refused connection fails with SAMPLE_HTTP_CONNECT', async () => {
  const server = http.createServer();
  const port = await listen(server);
  await close(server);
  await assert.rejects(sampleRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 1000, proxy: null }),
    (e: unknown) => e instanceof SampleHttpError && e.code === 'SAMPLE_HTTP_CONNECT');
});

test('forwardedHeaders keeps trace and identity headers only', () => {
  const h = forwardedHeaders({
    'x-request-id': '1', 'x-b3-spanid': '2', b3: '3', traceparent: '4', tracestate: '5', 'user-agent': 'ua',
    cookie: 'c', authorization: 'a', 'end-user': 'jason', 'content-type': 'text/html', host: 'x',
  }, false);
  assert.deepEqual(Object.keys(h).sort(), ['authorization', 'b3', 'cookie', 'traceparent', 'tracestate', 'user-agent', 'x-b3-spanid', 'x-request-id']);
  assert.equal(forwardedHeaders({ 'end-user': 'jason' }, true)['end-user'], 'jason');
});
