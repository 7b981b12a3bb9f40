import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { BOOKINFO_WORKLOADS, HTTPBIN_WORKLOADS, samplePath } from '../../samples/manifest.js';
import { get, startTestMesh, countOf } from './sample-test-mesh.js';

/** Starts a compiled sample as the demo would, and waits for its "listening on" line. */
async function startSample(script: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [samplePath(script)], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 5000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on [^\s]+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${out}`)); });
  });
  return { child, port };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 4000).unref());
  const r = await Promise.race([exited, timeout]);
  if (r === 'timeout') {
    child.kill('SIGKILL');
    throw new Error('sample did not exit after signal');
  }
  return r;
}

test('productpage and reviews processes use HTTP_PROXY from the environment and exit 0 on SIGTERM/SIGINT', async () => {
  const mesh = await startTestMesh();
  const productpage = BOOKINFO_WORKLOADS.find((w) => w.name === 'productpage-v1')!;
  const reviewsV3 = BOOKINFO_WORKLOADS.find((w) => w.name === 'reviews-v3')!;
  const proxyEnv = { HTTP_PROXY: `http://127.0.0.1:${mesh.proxy.port}` };
  const reviews = await startSample(reviewsV3.script, { ...reviewsV3.env, ...proxyEnv });
  const page = await startSample(productpage.script, { ...productpage.env, ...proxyEnv });
  try {
    mesh.route('reviews', { port: reviews.port });
    mesh.route('details', (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"id":0,"type":"paperback"}'); });
    mesh.route('ratings', (_req, res) => { res.writeHead(200); res.end('{"id":0,"ratings":{"Reviewer1":2,"Reviewer2":1}}'); });
    const res = await get(page.port, '/productpage');
    assert.equal(res.status, 200);
    assert.ok(res.body.includes('Reviews served by: reviews-v3'));
    assert.equal(countOf(res.body, 'data-star="filled" data-color="red"'), 3);
    assert.deepEqual(mesh.calls.map((c) => c.url).sort(), [
      'http://details:9080/details/0', 'http://ratings:9080/ratings/0', 'http://reviews:9080/reviews/0',
    ]);
  } finally {
    assert.equal(await stop(page.child, 'SIGTERM'), 0);
    assert.equal(await stop(reviews.child, 'SIGINT'), 0);
    await mesh.close();
  }
});

test('details, ratings and httpbin processes start from the manifest and stop on SIGTERM', async () => {
  for (const w of [...BOOKINFO_WORKLOADS.filter((x) => x.labels.app === 'details' || x.labels.app === 'ratings'), ...HTTPBIN_WORKLOADS]) {
    const { child, port } = await startSample(w.script, w.env);
    try {
      assert.equal((await get(port, '/health')).status, 200, w.name);
    } finally {
      assert.equal(await stop(child, 'SIGTERM'), 0, w.name);
    }
  }
});
