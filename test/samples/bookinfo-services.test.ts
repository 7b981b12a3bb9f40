import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createDetailsServer } from '../../samples/bookinfo/details-app.js';
import { createRatingsServer } from '../../samples/bookinfo/ratings-app.js';
import { createReviewsServer, reviewsConfigFromEnv, type ReviewsConfig } from '../../samples/bookinfo/reviews-app.js';
import { closeSampleAgents } from '../../samples/common/sample-http-client.js';
import { close, get, listen, startTestMesh } from './sample-test-mesh.js';

const servers: http.Server[] = [];
async function start(server: http.Server): Promise<number> {
  servers.push(server);
  return listen(server);
}
after(async () => {
  closeSampleAgents();
  await Promise.all(servers.map(close));
});

const TEXT1 = 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!';
const TEXT2 = 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.';

test('details answers the book facts, 400 for a non-numeric id, and /health', async () => {
  const port = await start(createDetailsServer());
  const ok = await get(port, '/details/0');
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), {
    id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200,
    publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890',
  });
  assert.equal(JSON.parse((await get(port, '/details/7')).body).id, 7);
  assert.equal((await get(port, '/details/abc')).status, 400);
  assert.equal((await get(port, '/health')).status, 200);
});

test('ratings answers both reviewers, 400 for NaN', async () => {
  const port = await start(createRatingsServer());
  const ok = await get(port, '/ratings/0');
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  assert.equal((await get(port, '/ratings/NaN')).status, 400);
  assert.equal((await get(port, '/health')).status, 200);
});

async function reviewsWithMesh(version: string, ratingsRoute?: http.RequestListener) {
  const mesh = await startTestMesh();
  const ratingsPort = await start(createRatingsServer());
  mesh.route('ratings', ratingsRoute ?? { port: ratingsPort });
  const cfg: ReviewsConfig = {
    ...reviewsConfigFromEnv({ SERVICE_VERSION: version, POD_NAME: `reviews-${version}` }),
    proxy: mesh.proxy,
  };
  const port = await start(createReviewsServer(cfg));
  return { mesh, port };
}

test('reviews v1 has no ratings and never calls ratings', async () => {
  const { mesh, port } = await reviewsWithMesh('v1');
  const res = await get(port, '/reviews/0');
  assert.equal(res.status, 200);
  assert.deepEqual(JSON.parse(res.body), {
    id: '0', podname: 'reviews-v1', clustername: 'null',
    reviews: [{ reviewer: 'Reviewer1', text: TEXT1 }, { reviewer: 'Reviewer2', text: TEXT2 }],
  });
  assert.equal(mesh.count('ratings'), 0);
  await mesh.close();
});

test('reviews v2 shows black stars from ratings and forwards end-user and trace headers', async () => {
  const { mesh, port } = await reviewsWithMesh('v2');
  const res = await get(port, '/reviews/0', { 'end-user': 'jason', 'x-request-id': 'rid-1', 'x-b3-traceid': 'abc', 'x-other': 'no' });
  const body = JSON.parse(res.body);
  assert.deepEqual(body.reviews.map((r: { rating: unknown }) => r.rating), [
    { stars: 5, color: 'black' }, { stars: 4, color: 'black' },
  ]);
  assert.equal(mesh.count('ratings'), 1);
  const call = mesh.calls.find((c) => c.service === 'ratings')!;
  assert.equal(call.url, 'http://ratings:9080/ratings/0', 'absolute-form request to the proxy');
  assert.equal(call.headers.host, 'ratings:9080');
  assert.equal(call.headers['end-user'], 'jason');
  assert.equal(call.headers['x-request-id'], 'rid-1');
  assert.equal(call.headers['x-b3-traceid'], 'abc');
  assert.equal(call.headers['x-other'], undefined);
  await mesh.close();
});

test('reviews v3 shows red stars', async () => {
  const { mesh, port } = await reviewsWithMesh('v3');
  const body = JSON.parse((await get(port, '/reviews/0')).body);
  assert.deepEqual(body.reviews.map((r: { rating: unknown }) => r.rating), [
    { stars: 5, color: 'red' }, { stars: 4, color: 'red' },
  ]);
  await mesh.close();
});

test('reviews v2 reports the ratings error when ratings answers 500', async () => {
  const { mesh, port } = await reviewsWithMesh('v2', (_req, res) => { res.writeHead(500); res.end('fault filter abort'); });
  const body = JSON.parse((await get(port, '/reviews/0')).body);
  assert.deepEqual(body.reviews.map((r: { rating: unknown }) => r.rating), [
    { error: 'Ratings service is currently unavailable' }, { error: 'Ratings service is currently unavailable' },
  ]);
  await mesh.close();
});

test('reviews v3 gives up on ratings after 2.5 s', async () => {
  const { mesh, port } = await reviewsWithMesh('v3', (_req, res) => {
    const t = setTimeout(() => { res.writeHead(200); res.end('{}'); }, 4000);
    res.on('close', () => clearTimeout(t));
  });
  const t0 = Date.now();
  const body = JSON.parse((await get(port, '/reviews/0')).body);
  const elapsed = Date.now() - t0;
  assert.equal(body.reviews[0].rating.error, 'Ratings service is currently unavailable');
  assert.ok(elapsed >= 2400 && elapsed < 3800, `elapsed ${elapsed} ms`);
  await mesh.close();
});
