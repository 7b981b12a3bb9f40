import { test } from 'node:test';
import { serve } from './load-test-servers.js';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DRIVER = fileURLToPath(new URL('./fixtures/load-cli-driver.js', import.meta.url));


function clew(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DRIVER, 'load', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('clew load hung')); }, 10_000);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

let hits = 0;
const handler: http.RequestListener = (req, res) => {
  if (req.url?.startsWith('/status/')) {
    res.writeHead(Number(req.url.slice(8)), { 'x-served-by': 'test' });
    res.end('status body');
    return;
  }
  hits++;
  res.writeHead(hits % 4 === 0 ? 503 : 200, { 'content-type': 'application/json', 'x-served-by': 'test' });
  res.end(JSON.stringify({ url: req.url, host: req.headers.host, user: req.headers['end-user'] ?? null }));
};

test('fortio flags: -c 2 -qps 0 -n 20 -loglevel Warning prints Code 200 and Code 503 lines and exits 0', async () => {
  hits = 0;
  const port = await serve(handler);
  const r = await clew(['-c', '2', '-qps', '0', '-n', '20', '-loglevel', 'Warning', `http://127.0.0.1:${port}/get`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Code 200 : 15 \(75\.0 %\)\nCode 503 : 5 \(25\.0 %\)/);
  assert.match(r.stdout, /All done 20 calls/);
  assert.equal(hits, 20);
});

test('-curl prints the status line, headers and body; exit 0 for 2xx, 1 otherwise', async () => {
  hits = 0;
  const port = await serve(handler);
  const ok = await clew(['-curl', '-H', 'end-user: jason', `http://127.0.0.1:${port}/get`]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(ok.stdout, /x-served-by: test\r\n/);
  assert.ok(ok.stdout.includes('"user":"jason"'));
  assert.equal(hits, 1);
  const bad = await clew(['-curl', `http://127.0.0.1:${port}/status/503`]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
});

test('-json - prints one JSON object', async () => {
  hits = 0;
  const port = await serve(handler);
  const r = await clew(['-json', '-', '-qps', '0', '-n', '8', '-c', '1', `http://127.0.0.1:${port}/`]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.retCodes, { 200: 6, 503: 2 });
  assert.equal(j.count, 8);
  assert.equal(typeof j.actualQps, 'number');
  assert.equal(typeof j.latencyMs.p99, 'number');
});

test('HTTP_PROXY from the environment, or --proxy, gets absolute-form requests', async () => {
  const seen: string[] = [];
  const proxyPort = await serve((req, res) => { seen.push(`${req.url} ${req.headers.host}`); res.end('via proxy'); });
  const r = await clew(['-curl', 'http://httpbin:8000/get'], { HTTP_PROXY: `http://127.0.0.1:${proxyPort}` });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.endsWith('via proxy\n'));
  const r2 = await clew(['-n', '2', '-qps', '0', '--proxy', `http://127.0.0.1:${proxyPort}`, 'http://reviews:9080/reviews/0']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(seen, [
    'http://httpbin:8000/get httpbin:8000', 'http://reviews:9080/reviews/0 reviews:9080', 'http://reviews:9080/reviews/0 reviews:9080',
  ]);
});

test('usage errors exit 2; all calls failing exits 1', async () => {
  assert.equal((await clew([])).code, 2);
  assert.equal((await clew(['-c', 'x', 'http://127.0.0.1:1/'])).code, 2);
  assert.equal((await clew(['-bogus', 'http://127.0.0.1:1/'])).code, 2);
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const r = await clew(['-n', '2', '-qps', '0', `http://127.0.0.1:${deadPort}/`]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Code -1 : 2 \(100\.0 %\)/);
});
