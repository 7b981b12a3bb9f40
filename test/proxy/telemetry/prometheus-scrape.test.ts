/**
 * A real Prometheus server (Debian's `prometheus` package, as installed by .ci/run) scrapes the
 * proxy's /stats/prometheus output and answers PromQL about it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createTelemetry, PROMETHEUS_CONTENT_TYPE } from '../../../src/proxy/telemetry/index.js';
import { PRODUCTPAGE, REVIEWS, httpInfo } from './telemetry-fixtures.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url);
  return res.json();
}

test('a real Prometheus scrapes the exposition and queries istio metrics', async () => {
  const t = createTelemetry({}, PRODUCTPAGE);
  const peer = t.decodePeer(createTelemetry({}, REVIEWS).peerMetadataHeaders()['x-envoy-peer-metadata']);
  for (let i = 0; i < 10; i++) {
    t.onRequestComplete(httpInfo({ direction: 'outbound', peer, responseCode: i < 8 ? 200 : 503, durationMs: 4 + i }));
  }
  t.stats.scope('cluster.outbound|9080||reviews.default.svc.cluster.local.').counter('upstream_rq_total').inc(10);

  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(t.prometheusText());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-prom-'));
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 200ms',
      '  scrape_timeout: 200ms',
      'scrape_configs:',
      '  - job_name: clew',
      '    metrics_path: /stats/prometheus',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const prom = spawn(
    'prometheus',
    [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: 'ignore' },
  );
  const spawnError = new Promise<Error>((resolve) => prom.on('error', resolve));
  const api = `http://127.0.0.1:${port}/api/v1`;
  try {
    const deadline = Date.now() + 15000;
    let result: Array<{ metric: Record<string, string>; value: [number, string] }> = [];
    while (Date.now() < deadline) {
      const err = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 150))]);
      if (err) throw new Error(`prometheus is required (apt-get install prometheus): ${err.message}`);
      try {
        const q = await getJson(`${api}/query?query=${encodeURIComponent('sum by (response_code) (istio_requests_total{reporter="source"})')}`);
        result = q.data?.result ?? [];
        if (result.length === 2) break;
      } catch {
        // not up yet
      }
    }
    const byCode = Object.fromEntries(result.map((r) => [r.metric.response_code, Number(r.value[1])]));
    assert.deepEqual(byCode, { '200': 8, '503': 2 });

    const targets = await getJson(`${api}/targets`);
    const active = targets.data.activeTargets[0];
    assert.equal(active.health, 'up');
    assert.equal(active.lastError, '');

    const q = await getJson(`${api}/query?query=${encodeURIComponent('histogram_quantile(0.5, sum by (le) (istio_request_duration_milliseconds_bucket))')}`);
    const p50 = Number(q.data.result[0].value[1]);
    assert.ok(p50 > 5 && p50 <= 10, `p50 ${p50} within the (5,10] bucket`);

    const labels = await getJson(`${api}/query?query=${encodeURIComponent('envoy_cluster_upstream_rq_total')}`);
    assert.equal(labels.data.result[0].metric.cluster_name, 'outbound|9080||reviews.default.svc.cluster.local');
    const full = await getJson(`${api}/query?query=${encodeURIComponent('istio_requests_total{response_code="503"}')}`);
    const m = full.data.result[0].metric;
    assert.equal(m.destination_workload, 'reviews-v2');
    assert.equal(m.source_canonical_service, 'productpage');
    assert.equal(m.connection_security_policy, 'unknown');
  } finally {
    prom.kill('SIGTERM');
    await new Promise<void>((r) => {
      if (prom.exitCode !== null || prom.signalCode !== null) return r();
      const k = setTimeout(() => (prom.kill('SIGKILL'), r()), 3000);
      prom.on('exit', () => (clearTimeout(k), r()));
    });
    await new Promise<void>((r) => server.close(() => r()));
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
