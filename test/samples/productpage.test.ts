import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createDetailsServer } from '../../samples/bookinfo/details-app.js';
import { createRatingsServer } from '../../samples/bookinfo/ratings-app.js';
import { createReviewsServer, reviewsConfigFromEnv } from '../../samples/bookinfo/reviews-app.js';
import { createProductpageServer } from '../../samples/bookinfo/productpage-app.js';
import { productpageConfigFromEnv } from '../../samples/bookinfo/productpage-backends.js';
import { closeSampleAgents } from '../../samples/common/sample-http-client.js';
import { close, countOf, get, listen, startTestMesh, type TestMesh } from './sample-test-mesh.js';

const servers: http.Server[] = [];
const meshes: TestMesh[] = [];
async function start(server: http.Server): Promise<number> {
  servers.push(server);
  return listen(server);
}
after(async () => {
  closeSampleAgents();
  await Promise.all([...servers.map(close), ...meshes.map((m) => m.close())]);
});

/** Bookinfo behind the test proxy, with the given reviews version (or a stub). */
async function bookinfo(reviews: string | http.RequestListener, opts: { timeoutMs?: number; details?: http.RequestListener } = {}) {
  const mesh = await startTestMesh();
  meshes.push(mesh);
  mesh.route('details', opts.details ?? { port: await start(createDetailsServer()) });
  mesh.route('ratings', { port: await start(createRatingsServer()) });
  if (typeof reviews === 'string') {
    const cfg = { ...reviewsConfigFromEnv({ SERVICE_VERSION: reviews, POD_NAME: `reviews-${reviews}-abc` }), proxy: mesh.proxy };
    mesh.route('reviews', { port: await start(createReviewsServer(cfg)) });
  } else {
    mesh.route('reviews', reviews);
  }
  const cfg = { ...productpageConfigFromEnv({ SESSION_SECRET: 'test-secret' }), proxy: mesh.proxy, timeoutMs: opts.timeoutMs ?? 3000 };
  const port = await start(createProductpageServer(cfg));
  return { mesh, port };
}

const FILLED = 'data-star="filled"';
const EMPTY = 'data-star="empty"';

test('productpage with reviews v1: details table, reviews, no stars', async () => {
  const { mesh, port } = await bookinfo('v1');
  const res = await get(port, '/productpage');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'] ?? '', /text\/html/);
  assert.ok(res.body.includes('The Comedy of Errors'));
  assert.ok(res.body.includes('Book Details'));
  assert.ok(res.body.includes('paperback') && res.body.includes('PublisherA') && res.body.includes('123-1234567890'));
  assert.ok(res.body.includes('Book Reviews'));
  assert.ok(res.body.includes('An extremely entertaining play by Shakespeare.'));
  assert.ok(res.body.includes('Reviews served by: reviews-v1-abc'));
  assert.equal(countOf(res.body, FILLED), 0);
  assert.equal(mesh.count('details'), 1);
  assert.equal(mesh.count('reviews'), 1);
  const call = mesh.calls.find((c) => c.service === 'reviews')!;
  assert.equal(call.url, 'http://reviews:9080/reviews/0');
  assert.equal(mesh.calls.find((c) => c.service === 'details')!.url, 'http://details:9080/details/0');
});

test('productpage with reviews v2 shows 5+4 black stars, v3 red ones', async () => {
  for (const [version, color] of [['v2', 'black'], ['v3', 'red']] as const) {
    const { port } = await bookinfo(version);
    const body = (await get(port, '/productpage')).body;
    assert.equal(countOf(body, FILLED), 9, version);
    assert.equal(countOf(body, EMPTY), 1, version);
    assert.equal(countOf(body, `data-color="${color}"`), 10, version);
    assert.ok(body.includes(`<span class="glyphicon glyphicon-star" ${FILLED} data-color="${color}" style="color:${color}">`));
    assert.ok(body.includes(`data-stars="5"`) && body.includes(`data-stars="4"`));
  }
});

test('reviews failure: the error text, and reviews is tried exactly twice', async () => {
  const { mesh, port } = await bookinfo((_req, res) => { res.writeHead(503); res.end('upstream connect error'); });
  const body = (await get(port, '/productpage')).body;
  assert.ok(body.includes('Sorry, product reviews are currently unavailable for this book.'));
  assert.equal(mesh.count('reviews'), 2);
  assert.ok(body.includes('paperback'), 'details still shown');
});

test('reviews timeout: each try times out, two tries', async () => {
  const { mesh, port } = await bookinfo((_req, res) => {
    const t = setTimeout(() => { res.writeHead(200); res.end('{}'); }, 2000);
    res.on('close', () => clearTimeout(t));
  }, { timeoutMs: 200 });
  const t0 = Date.now();
  const body = (await get(port, '/productpage')).body;
  const elapsed = Date.now() - t0;
  assert.ok(body.includes('Sorry, product reviews are currently unavailable for this book.'));
  assert.equal(mesh.count('reviews'), 2);
  assert.ok(elapsed >= 390 && elapsed < 1500, `elapsed ${elapsed} ms`);
});

test('details failure shows the details error text', async () => {
  const { port } = await bookinfo('v1', { details: (_req, res) => { res.writeHead(500); res.end(); } });
  const body = (await get(port, '/productpage')).body;
  assert.ok(body.includes('Sorry, product details are currently unavailable for this book.'));
  assert.ok(body.includes('Reviews served by:'));
});

test('ratings failure shows the red rating error under each review', async () => {
  const { mesh, port } = await bookinfo('v2');
  mesh.route('ratings', (_req, res) => { res.writeHead(500); res.end(); });
  const body = (await get(port, '/productpage')).body;
  assert.equal(countOf(body, '<p class="rating-error" style="color:red">Ratings service is currently unavailable</p>'), 2);
  assert.equal(countOf(body, FILLED), 0);
});

test('login sets a signed session; end-user goes to reviews and ratings; logout clears it', async () => {
  const { mesh, port } = await bookinfo('v2');
  const login = await get(port, '/login', { 'content-type': 'application/x-www-form-urlencoded' }, 'POST', 'username=jason&password=whatever');
  assert.equal(login.status, 302);
  assert.equal(login.headers.location, '/productpage');
  const setCookie = login.headers['set-cookie']?.[0] ?? '';
  assert.match(setCookie, /^session=[^;]+\.[^;]+;/);
  const cookie = setCookie.split(';')[0];

  const page = await get(port, '/productpage', { cookie, 'x-request-id': 'req-42', traceparent: '00-abc-def-01' });
  assert.ok(page.body.includes('jason'));
  const toReviews = mesh.calls.filter((c) => c.service === 'reviews').at(-1)!;
  assert.equal(toReviews.headers['end-user'], 'jason');
  assert.equal(toReviews.headers['x-request-id'], 'req-42');
  assert.equal(toReviews.headers.traceparent, '00-abc-def-01');
  assert.equal(mesh.calls.filter((c) => c.service === 'details').at(-1)!.headers['end-user'], 'jason');
  assert.equal(mesh.calls.filter((c) => c.service === 'ratings').at(-1)!.headers['end-user'], 'jason');

  // A cookie with a forged user but the old signature is ignored.
  const [payload, sig] = cookie.slice('session='.length).split('.');
  const forged = Buffer.from(JSON.stringify({ user: 'admin' })).toString('base64url');
  assert.notEqual(forged, payload);
  await get(port, '/productpage', { cookie: `session=${forged}.${sig}` });
  assert.equal(mesh.calls.filter((c) => c.service === 'reviews').at(-1)!.headers['end-user'], undefined);

  const logout = await get(port, '/logout', { cookie, referer: 'http://gateway/productpage' });
  assert.equal(logout.status, 302);
  assert.equal(logout.headers.location, '/productpage');
  assert.match(logout.headers['set-cookie']?.[0] ?? '', /^session=;.*Max-Age=0/);
  const anon = await get(port, '/productpage');
  assert.ok(anon.body.includes('Sign in'));
  assert.equal(mesh.calls.filter((c) => c.service === 'reviews').at(-1)!.headers['end-user'], undefined);
});

test('the API answers products, details, reviews and ratings', async () => {
  const { port } = await bookinfo('v3');
  const products = JSON.parse((await get(port, '/api/v1/products')).body);
  assert.equal(products[0].id, 0);
  assert.equal(products[0].title, 'The Comedy of Errors');
  assert.equal(typeof products[0].descriptionHtml, 'string');
  assert.equal(JSON.parse((await get(port, '/api/v1/products/0')).body).author, 'William Shakespeare');
  assert.equal(JSON.parse((await get(port, '/api/v1/products/0/reviews')).body).reviews[0].rating.color, 'red');
  assert.deepEqual(JSON.parse((await get(port, '/api/v1/products/0/ratings')).body).ratings, { Reviewer1: 5, Reviewer2: 4 });
  const bad = await get(port, '/api/v1/products/abc');
  assert.equal(bad.status, 400);
  assert.equal(JSON.parse(bad.body).error, 'Sorry, product details are currently unavailable for this book.');
});

test('index, health, static and 404', async () => {
  const { port } = await bookinfo('v1');
  const index = await get(port, '/');
  assert.equal(index.status, 200);
  assert.ok(index.body.includes('/productpage'));
  assert.equal((await get(port, '/health')).status, 200);
  assert.equal((await get(port, '/static/bookinfo.css')).status, 200);
  assert.equal((await get(port, '/static/nope.js')).status, 404);
  assert.equal((await get(port, '/nope')).status, 404);
  assert.equal((await get(port, '/login')).status, 405);
});
