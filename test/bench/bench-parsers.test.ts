import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseH2load, parseHey, parseWrk } from '../../bench/bench-load.js';
import { evaluate, summarize, type RateRun, type TargetRuns, type WrkRun } from '../../bench/bench-results.js';

const WRK = `Running 1s test @ http://127.0.0.1:18080/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.34ms    7.68ms  60.06ms   90.21%
    Req/Sec     2.37k     1.90k    7.83k    90.91%
  Latency Distribution
     50%  812.00us
     75%    5.23ms
     90%   11.90ms
     99%    1.02s
  2710 requests in 1.16s, 3.04MB read
  Non-2xx or 3xx responses: 7
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:   2339.13
Transfer/sec:      2.63MB
`;

const HEY = `
Summary:
  Requests/sec:	999.8765

Latency distribution:
  10% in 0.0003 secs
  50% in 0.0006 secs
  90% in 0.0025 secs
  99% in 0.0101 secs

Status code distribution:
  [200]	9990 responses
  [503]	3 responses

Error distribution:
  [4]	Get "http://127.0.0.1:1/": dial tcp: connection refused
`;

const H2LOAD = `finished in 2.00s, 5366.00 req/s, 5.38MB/s
requests: 5366 total, 5366 started, 5366 done, 5360 succeeded, 6 failed, 0 errored, 0 timeout
status codes: 5366 2xx, 0 3xx, 0 4xx, 0 5xx
                     min         max         mean         sd        +/- sd
time for request:       64us     44.43ms       738us      2.32ms    93.55%
`;

test('wrk output: requests, rate, percentiles in their units, errors', () => {
  const w = parseWrk(WRK);
  assert.equal(w.requests, 2710);
  assert.equal(w.seconds, 1.16);
  assert.equal(w.rps, 2339.13);
  assert.equal(w.latencyMs.p50, 0.812);
  assert.equal(w.latencyMs.p90, 11.9);
  assert.equal(w.latencyMs.p99, 1020);
  assert.equal(w.non2xx, 7);
  assert.equal(w.socketErrors, 3);
});

test('hey output: percentiles in µs, non-2xx and transport errors counted', () => {
  const h = parseHey(HEY);
  assert.equal(h.p50, 600);
  assert.equal(h.p90, 2500);
  assert.equal(Math.round(h.p99), 10100);
  assert.equal(h.requests, 9993);
  assert.equal(h.errors, 3 + 4);
  assert.equal(h.rps, 999.8765);
});

test('h2load output: main-phase requests, rate, mean latency', () => {
  const r = parseH2load(H2LOAD);
  assert.deepEqual(r, { requests: 5366, succeeded: 5360, failed: 6, rps: 5366, meanMs: 0.738 });
});

function wrkRun(rps: number, cpuUs: number, round = 0): WrkRun {
  return { requests: rps * 10, seconds: 10, rps, latencyMs: { p50: 1, p90: 2, p99: 3 }, non2xx: 0, socketErrors: 0, round, foreignCpuPct: 0, cpuSeconds: (rps * 10 * cpuUs) / 1e6, cpuUsPerRequest: cpuUs, rssPeakMb: 50 };
}

function rateRun(p90: number, vcpu: number, round = 0): RateRun {
  return { tool: 'fixed-rate-load', requests: 10000, rps: 1000, p50: p90 / 2, p90, p99: p90 * 2, errors: 0, round, foreignCpuPct: 0, seconds: 10, cpuSeconds: vcpu * 10, vcpuPer1000Rps: vcpu };
}

function target(id: string, proxies: number, rps: number, cpuUs: number, p90: number, vcpu: number, rss = 30): TargetRuns {
  return { id, label: id, kind: id.startsWith('clew') ? 'clew' : 'peer', proxies, rssIdleMb: rss, wrk: [wrkRun(rps, cpuUs)], fixedRate: [rateRun(p90, vcpu)], hey: [] };
}

test('summary and checks: ratios, latency added over direct, pass/fail per target', () => {
  const runs = [
    target('direct', 0, 30000, 0, 200, 0),
    target('clew-sidecar', 1, 21000, 45, 260, 0.1, 38),
    target('clew-mesh', 2, 12000, 90, 330, 0.2),
    target('haproxy', 1, 28000, 35, 270, 0.05),
    target('http-proxy', 1, 14000, 90, 400, 0.15),
    target('fastify-http-proxy', 1, 16000, 92, 420, 0.15),
  ];
  const s = summarize(runs);
  const sc = s.find((t) => t.id === 'clew-sidecar')!;
  assert.equal(sc.rpsVsHaproxy, 0.75);
  assert.equal(sc.addedLatency.p90, 60);
  assert.equal(s.find((t) => t.id === 'clew-mesh')!.cpuUsPerRequestPerProxy, 45);
  const checks = new Map(evaluate(s, undefined).map((c) => [c.id, c.pass]));
  assert.equal(checks.get('sidecar-cpu-per-request'), true);
  assert.equal(checks.get('sidecar-vs-haproxy'), true);
  assert.equal(checks.get('sidecar-vs-http-proxy'), true);
  // 21000 / 16000 = 1.31 < 1.4
  assert.equal(checks.get('sidecar-vs-fastify-http-proxy'), false);
  // mesh adds 130 µs at p90, HAProxy 70: limit 140
  assert.equal(checks.get('mesh-added-p90'), true);
  assert.equal(checks.get('sidecar-vcpu'), true);
  assert.equal(checks.get('sidecar-rss-idle'), true);

  const slow = summarize(runs.map((t) => (t.id === 'clew-sidecar' ? target('clew-sidecar', 1, 15000, 70, 500, 0.2, 90) : t)));
  const failed = evaluate(slow, { services: 1000, endpoints: 10000, clients: 100, config_load_ms: 1, first_full_push_ms: 1, apply_to_all_acked_ms: { p50: 300, p99: 600, max: 700 }, rss_mb: { idle_loaded: 200, clients_connected: 400, after_applies: 300 } });
  const byId = new Map(failed.map((c) => [c.id, c.pass]));
  for (const id of ['sidecar-cpu-per-request', 'sidecar-vs-haproxy', 'sidecar-vcpu', 'sidecar-rss-idle', 'control-plane-p99']) assert.equal(byId.get(id), false, id);
  assert.equal(byId.get('control-plane-rss'), true);
});

test('fixed-rate-load paces requests, sends --header lines, reads chunked and content-length responses', async () => {
  let n = 0;
  let withHeaders = 0;
  const server = http.createServer((req, res) => {
    if (req.headers.authorization === 'Bearer t.o.k' && req.headers['x-tenant'] === 'tenant-7') withHeaders++;
    // alternate framing: chunked, then content-length
    if (n++ % 2) {
      res.write('x'.repeat(100));
      res.end('y'.repeat(100));
    } else res.end('z'.repeat(1024));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/fixed-rate-load.js');
  try {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [script, '--url', `http://127.0.0.1:${port}/`, '--rps', '200', '--connections', '4', '--duration-ms', '500', '--header', 'authorization: Bearer t.o.k', '--header', 'x-tenant: tenant-7'], { timeout: 10_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    const r = JSON.parse(out);
    assert.equal(r.errors, 0);
    assert.equal(r.non2xx, 0);
    assert.equal(r.completed, r.scheduled);
    // 200 rps for 0.5 s: about 100 requests, not as many as possible
    assert.ok(r.completed >= 90 && r.completed <= 102, `completed ${r.completed}`);
    assert.equal(n, r.completed);
    assert.equal(withHeaders, n, 'every request carries the --header lines');
    assert.ok(r.latency_us.p50 > 0 && r.latency_us.p50 <= r.latency_us.p99);
  } finally {
    server.close();
  }
});
