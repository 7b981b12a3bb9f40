import { test } from 'node:test';
import { serve } from './load-test-servers.js';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runLoad } from '../../src/load/load-runner.js';
import { buildLoadOptions } from '../../src/load/load-options.js';
import { formatLoadText, loadResultJson } from '../../src/load/load-report.js';
import { percentile } from '../../src/load/load-stats.js';


test('-n is exact and status codes are counted per code, sorted, fortio-style', async () => {
  let n = 0;
  const port = await serve((_req, res) => {
    n++;
    res.writeHead(n % 3 === 0 ? 503 : 200);
    res.end('x');
  });
  const r = await runLoad(buildLoadOptions(`http://127.0.0.1:${port}/get`, { n: '30', qps: '0', connections: '3' }));
  assert.equal(n, 30);
  assert.equal(r.stats.count, 30);
  assert.deepEqual(r.stats.sortedCodes(), [[200, 20], [503, 10]]);
  const text = formatLoadText(r);
  assert.match(text, /^Code 200 : 20 \(66\.7 %\)\nCode 503 : 10 \(33\.3 %\)\n/m);
  assert.match(text, /All done 30 calls/);
  assert.match(text, /Latency \(ms\) : min [\d.]+ avg [\d.]+ p50 [\d.]+ p75 [\d.]+ p90 [\d.]+ p99 [\d.]+ p99\.9 [\d.]+ max [\d.]+/);
  assert.ok(r.sockets >= 1 && r.sockets <= 3, `sockets ${r.sockets}`);
});

test('-c workers run concurrently on keep-alive connections', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<unknown>();
  const port = await serve((req, res) => {
    sockets.add(req.socket);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => { inFlight--; res.end('ok'); }, 40);
  });
  const r = await runLoad(buildLoadOptions(`http://127.0.0.1:${port}/`, { n: '15', qps: '0', connections: '3' }));
  assert.equal(r.stats.count, 15);
  assert.equal(maxInFlight, 3);
  assert.equal(sockets.size, 3, 'one reused connection per worker');
  assert.equal(r.sockets, 3);
});

test('-qps paces the calls across workers', async () => {
  const port = await serve((_req, res) => res.end('ok'));
  const r = await runLoad(buildLoadOptions(`http://127.0.0.1:${port}/`, { n: '11', qps: '20', connections: '4' }));
  // Call i starts at i/20 s: the last (i = 10) at 500 ms.
  assert.ok(r.actualDurationMs >= 480 && r.actualDurationMs < 1200, `took ${r.actualDurationMs} ms`);
  assert.equal(r.stats.count, 11);
});

test('-t stops after the duration', async () => {
  const port = await serve((_req, res) => setTimeout(() => res.end('ok'), 5));
  const r = await runLoad(buildLoadOptions(`http://127.0.0.1:${port}/`, { t: '300ms', qps: '0', connections: '2' }));
  assert.ok(r.actualDurationMs >= 295 && r.actualDurationMs < 1000, `took ${r.actualDurationMs} ms`);
  assert.ok(r.stats.count > 10);
});

test('--proxy sends absolute-form requests with the target Host and the extra headers', async () => {
  const seen: Array<{ url: string; host: string; user: string }> = [];
  const port = await serve((req, res) => {
    seen.push({ url: req.url ?? '', host: req.headers.host ?? '', user: String(req.headers['end-user']) });
    res.end('ok');
  });
  const r = await runLoad(buildLoadOptions('http://httpbin:8000/get?x=1', {
    n: '4', qps: '0', connections: '2', proxy: `http://127.0.0.1:${port}`, header: ['end-user: jason'],
  }));
  assert.deepEqual(r.stats.sortedCodes(), [[200, 4]]);
  assert.equal(seen.length, 4);
  for (const s of seen) assert.deepEqual(s, { url: 'http://httpbin:8000/get?x=1', host: 'httpbin:8000', user: 'jason' });
});

test('connection failures and timeouts count as code -1', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const refused = await runLoad(buildLoadOptions(`http://127.0.0.1:${deadPort}/`, { n: '3', qps: '0', connections: '1' }));
  assert.deepEqual(refused.stats.sortedCodes(), [[-1, 3]]);

  const slowPort = await serve((_req, res) => { const t = setTimeout(() => res.end(), 2000); res.on('close', () => clearTimeout(t)); });
  const t0 = Date.now();
  const slow = await runLoad(buildLoadOptions(`http://127.0.0.1:${slowPort}/`, { n: '2', qps: '0', connections: '2', timeout: '150ms' }));
  assert.deepEqual(slow.stats.sortedCodes(), [[-1, 2]]);
  assert.ok(Date.now() - t0 < 1500);
});

test('the JSON result carries counts per code, percentiles, qps and duration', async () => {
  const port = await serve((req, res) => { res.writeHead(req.url === '/' ? 200 : 404); res.end(); });
  const r = await runLoad(buildLoadOptions(`http://127.0.0.1:${port}/`, { n: '5', qps: '0', connections: '1' }));
  const j = loadResultJson(r);
  assert.equal(j.count, 5);
  assert.deepEqual(j.retCodes, { 200: 5 });
  assert.equal(j.requestedCalls, 5);
  assert.equal(j.requestedQps, 'max');
  assert.equal(j.connections, 1);
  assert.ok(j.actualDurationMs > 0 && j.actualQps > 0);
  assert.deepEqual(j.percentiles.map((p) => p.percentile), [50, 75, 90, 99, 99.9]);
  assert.ok(j.latencyMs.min <= j.latencyMs.p50 && j.latencyMs.p50 <= j.latencyMs.max);
});

test('abort stops a -t 0 run', async () => {
  const port = await serve((_req, res) => res.end('ok'));
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const r = await runLoad(buildLoadOptions(`http://127.0.0.1:${port}/`, { t: '0', qps: '50', connections: '2' }), { signal: ac.signal });
  assert.ok(r.actualDurationMs < 1000);
  assert.ok(r.stats.count >= 5 && r.stats.count <= 15, `count ${r.stats.count}`);
});

test('nearest-rank percentiles', () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(s, 50), 5);
  assert.equal(percentile(s, 90), 9);
  assert.equal(percentile(s, 99), 10);
  assert.equal(percentile([], 50), 0);
});
