/**
 * `clew ratelimit`'s server over real gRPC against a real Redis: fixed windows shared by every
 * caller (OK then OVER_LIMIT with the limit, what is left and the time to reset), shadow mode
 * (counted, answered OK), unlimited and unconfigured descriptors (never counted), hits_addend,
 * envoyproxy/ratelimit's key layout with the window's expiry; Redis down is UNAVAILABLE at once
 * and Redis back is used again without a restart; a bad config on reload keeps the last good one.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { lookupType } from '../../src/xds/proto-root.js';
import { SHOULD_RATE_LIMIT, startRateLimitServer, type RunningRateLimitServer } from '../../src/ratelimit/ratelimit-server.js';
import { startRedis, type RedisProc } from './redis-server.js';

const CONFIG = `domain: shop
descriptors:
  - key: PATH
    value: /cart
    rate_limit: {unit: minute, requests_per_unit: 2}
  - key: PATH
    value: /shadow
    shadow_mode: true
    rate_limit: {unit: minute, requests_per_unit: 1}
  - key: PATH
    value: /free
    rate_limit: {unlimited: true}
  - key: user
    descriptors:
      - key: PATH
        rate_limit: {unit: hour, requests_per_unit: 5}
`;

let redis: RedisProc;
let server: RunningRateLimitServer;
let client: grpc.Client;
let dir: string;
const logs: string[] = [];

interface Answer { overall_code?: string; statuses?: Array<Record<string, any>> }

function ask(domain: string, descriptors: Array<Array<[string, string]>>, hitsAddend = 0): Promise<Answer> {
  const req = lookupType('envoy.service.ratelimit.v3.RateLimitRequest');
  const res = lookupType('envoy.service.ratelimit.v3.RateLimitResponse');
  const bytes = Buffer.from(req.encode(req.fromObject({ domain, hits_addend: hitsAddend, descriptors: descriptors.map((d) => ({ entries: d.map(([key, value]) => ({ key, value })) })) })).finish());
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<Buffer, Buffer>(SHOULD_RATE_LIMIT, (b) => b, (b) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, v) => {
      if (err) reject(err);
      else resolve(res.toObject(res.decode(v!), { enums: String, longs: Number }) as Answer);
    });
  });
}

/** the minute's window must not end during a test */
async function awayFromWindowEnd(s: number): Promise<void> {
  const left = 60 - (Date.now() / 1000) % 60;
  if (left < s) await new Promise((r) => setTimeout(r, left * 1000 + 100));
}

before(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'clew-rl-server-'));
  writeFileSync(join(dir, 'config.yaml'), CONFIG);
  server = await startRateLimitServer({ configPath: dir, redisUrl: redis.url, grpcAddress: '127.0.0.1:0', keyPrefix: 't_', log: (m) => logs.push(m) });
  client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await server?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a fixed window shared by every caller: OK, OK, then OVER_LIMIT with the limit, nothing left and the time to reset', async () => {
  await awayFromWindowEnd(3);
  const a = await ask('shop', [[['PATH', '/cart']]]);
  const b = await ask('shop', [[['PATH', '/cart']]]);
  const c = await ask('shop', [[['PATH', '/cart']]]);
  assert.deepEqual([a.overall_code, b.overall_code, c.overall_code], ['OK', 'OK', 'OVER_LIMIT']);
  assert.equal(a.statuses![0].limit_remaining, 1);
  assert.deepEqual(c.statuses![0].current_limit, { requests_per_unit: 2, unit: 'MINUTE' });
  assert.equal(c.statuses![0].limit_remaining ?? 0, 0);
  const reset = Number(c.statuses![0].duration_until_reset?.seconds ?? 0);
  assert.ok(reset > 0 && reset <= 60, `reset in ${reset} s`);
  // envoyproxy/ratelimit's key: prefix, domain, entries, window start; it expires with the window
  const r = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  try {
    const keys = await r.keys('t_shop_PATH_/cart_*');
    assert.equal(keys.length, 1);
    assert.equal(Number(keys[0].split('_').at(-1)) % 60, 0, 'the window starts on a minute');
    assert.equal(await r.get(keys[0]), '3');
    const ttl = await r.ttl(keys[0]);
    assert.ok(ttl > 0 && ttl <= 60);
    assert.deepEqual(await r.keys('t_shop_PATH_/free*'), []);
  } finally {
    r.disconnect();
  }
  assert.equal(server.decider.counters.overLimit, 1);
});

test('several descriptors: any over its limit makes the answer OVER_LIMIT; shadow mode counts but answers OK; unlimited and unknown are never limited', async () => {
  await awayFromWindowEnd(3);
  const s1 = await ask('shop', [[['PATH', '/shadow']]]);
  const s2 = await ask('shop', [[['PATH', '/shadow']]]);
  assert.deepEqual([s1.overall_code, s2.overall_code], ['OK', 'OK']);
  assert.equal(server.decider.counters.shadowOverLimit, 1);
  for (let i = 0; i < 3; i++) assert.equal((await ask('shop', [[['PATH', '/free']], [['other', 'x']]])).overall_code, 'OK');
  assert.equal((await ask('nodomain', [[['PATH', '/cart']]])).overall_code, 'OK', 'a domain without config limits nothing');
  // nested: user + PATH default, 5 an hour, hits_addend 4 then 2
  assert.equal((await ask('shop', [[['user', 'ann'], ['PATH', '/x']]], 4)).overall_code, 'OK');
  const both = await ask('shop', [[['PATH', '/free']], [['user', 'ann'], ['PATH', '/x']]], 2);
  assert.equal(both.overall_code, 'OVER_LIMIT');
  assert.deepEqual(both.statuses!.map((s) => s.code), ['OK', 'OVER_LIMIT']);
  assert.equal((await ask('shop', [[['user', 'bob'], ['PATH', '/x']]])).overall_code, 'OK', 'another user has their own bucket');
});

test('Redis down: UNAVAILABLE at once with the reason, logged once; Redis back on its port: answers again without a restart', async () => {
  const port = redis.port;
  await redis.stop();
  const t0 = Date.now();
  await assert.rejects(ask('shop', [[['PATH', '/cart']]]), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE && /redis/.test(e.details));
  assert.ok(Date.now() - t0 < 2000, 'no wait for a reconnect');
  await assert.rejects(ask('shop', [[['PATH', '/cart']]]));
  assert.equal(logs.filter((l) => /redis: unavailable/.test(l)).length, 1, logs.join('\n'));
  assert.equal((await ask('shop', [[['nothing', 'configured']]])).overall_code, 'OK', 'a request that counts nothing needs no Redis');
  redis = await startRedis(port);
  const deadline = Date.now() + 5000;
  let answer: Answer | undefined;
  while (!answer && Date.now() < deadline) {
    answer = await ask('shop', [[['PATH', '/cart']]]).catch(() => undefined);
    if (!answer) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(answer?.overall_code, 'OK');
  assert.ok(logs.some((l) => /connected again/.test(l)));
});

test('reload: a bad config file is logged and the last good config stays', async () => {
  writeFileSync(join(dir, 'config.yaml'), 'domain: shop\ndescriptors:\n  - key: PATH\n    rate_limit: {unit: never}\n');
  server.reload();
  assert.match(logs.at(-1)!, /config not reloaded, keeping the last good one: .*config\.yaml: descriptors\[0\]\.rate_limit\.unit/);
  assert.equal((await ask('shop', [[['PATH', '/free']]])).overall_code, 'OK');
  writeFileSync(join(dir, 'config.yaml'), 'domain: shop\ndescriptors:\n  - key: PATH\n    value: /free\n    rate_limit: {unit: minute, requests_per_unit: 0}\n');
  server.reload();
  assert.equal((await ask('shop', [[['PATH', '/free']]])).overall_code, 'OVER_LIMIT', 'the new config applies');
});
