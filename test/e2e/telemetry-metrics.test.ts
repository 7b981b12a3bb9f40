/**
 * Observability must-show 1, on a real mesh configured by Clew's real control plane:
 * productpage-v1's sidecar calls reviews-v2's sidecar; a real Prometheus scrapes both sidecars'
 * stats ports (15090 role) and answers Istio's standard PromQL by destination workload and
 * response code; promtool accepts both expositions (admin /stats/prometheus too).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { planSidecar, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';
import { ALLOWED_LINTS, getText, promtool, startControlPlaneWithMesh, startPrometheus, viaSidecar } from './telemetry-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '70';

const SERVICE = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
`;
// metrics only: no tracer (nothing to resolve or send beyond loopback)
const MESH = 'enableTracing: false\n';

let cp: ControlPlaneProc;
let productpage: Sidecar;
let reviews: Sidecar;
let app: http.Server;
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

before(async () => {
  const stateDir = tempDir('clew-e2e-metrics-state-');
  const configDir = tempDir('clew-e2e-metrics-config-');
  writeFileSync(join(configDir, 'reviews.yaml'), SERVICE);
  cp = await startControlPlaneWithMesh(configDir, MESH);
  const reviewsPlan = await planSidecar({ name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, ports: [9080], xdsAddress: cp.xdsAddress, stateDir });
  app = http.createServer((req, res) => {
    req.resume();
    const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
    res.writeHead(m ? Number(m[1]) : 200, { 'content-type': 'text/plain' }).end(JSON.stringify(req.headers));
  });
  const appPort = await new Promise<number>((r) => app.listen(0, reviewsPlan.address, () => r((app.address() as { port: number }).port)));
  const ppPlan = await planSidecar({ name: 'productpage-v1', labels: { app: 'productpage', version: 'v1' }, xdsAddress: cp.xdsAddress, stateDir });
  [reviews, productpage] = await Promise.all([startSidecar(reviewsPlan, { 9080: appPort }), startSidecar(ppPlan)]);
  await waitFor(async () => {
    try {
      return (await viaSidecar(productpage.outbound, 'http://reviews:9080/')).status === 200;
    } catch {
      return false;
    }
  }, 40_000, () => `reviews to answer through the mesh; productpage: ${productpage.output().slice(-2000)}`);
}, { timeout: 90_000 });

after(() => {
  agent.destroy();
  app?.close();
});

function statsUrl(s: Sidecar): string {
  return `http://${s.address}:${s.plan.proxyPorts.stats}/stats/prometheus`;
}

test('a real Prometheus scrapes both sidecars; istio_requests_total by destination workload and response code', { timeout: 60_000 }, async () => {
  const prom = await startPrometheus([`${productpage.address}:${productpage.plan.proxyPorts.stats}`, `${reviews.address}:${reviews.plan.proxyPorts.stats}`]);
  // traffic keeps flowing while Prometheus scrapes, so rate() sees increases: 4 ok for 1 error
  let stop = false;
  let sent = 0;
  const traffic = (async () => {
    while (!stop) {
      const path = sent % 5 === 4 ? '/status/503' : '/reviews/1';
      const r = await viaSidecar(productpage.outbound, `http://reviews:9080${path}`, {}, agent);
      assert.equal(r.status, path === '/status/503' ? 503 : 200);
      assert.equal(r.headers['x-envoy-peer-metadata'], undefined, 'the exchange headers never reach the app');
      sent++;
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  const q = 'sum(rate(istio_requests_total{reporter="destination"}[1m])) by (destination_workload, response_code)';
  let result: Awaited<ReturnType<typeof prom.query>> = [];
  try {
    let targets = '';
    await waitFor(async () => {
      result = await prom.query(q);
      targets = JSON.stringify(await prom.targets());
      return result.length === 2 && result.every((r) => Number(r.value[1]) > 0);
    }, 30_000, () => `the query to return two positive series; last: ${JSON.stringify(result)}; targets: ${targets}`);
  } finally {
    stop = true;
    await traffic;
  }
  const series = Object.fromEntries(result.map((r) => [`${r.metric.destination_workload}/${r.metric.response_code}`, Number(r.value[1])]));
  assert.deepEqual(Object.keys(series).sort(), ['reviews-v2/200', 'reviews-v2/503']);
  assert.ok(series['reviews-v2/200'] > series['reviews-v2/503'], `4:1 traffic: ${JSON.stringify(series)}`);
  for (const r of result) assert.deepEqual(Object.keys(r.metric).sort(), ['destination_workload', 'response_code']);

  // both reporters, with the peer learned through metadata exchange
  // (the readiness probe's early calls, answered locally by the client sidecar with no peer, carry a response flag)
  const bySource = await prom.query('sum(istio_requests_total{reporter="source",response_flags="-"}) by (source_workload, destination_workload, destination_service, source_app, destination_version)');
  assert.equal(bySource.length, 1, JSON.stringify(bySource));
  assert.deepEqual(bySource[0].metric, {
    source_workload: 'productpage-v1',
    destination_workload: 'reviews-v2',
    destination_service: 'reviews.default.svc.cluster.local',
    source_app: 'productpage',
    destination_version: 'v2',
  });
  const dst = await prom.query('sum(istio_requests_total{reporter="destination"}) by (source_workload, source_version, connection_security_policy, destination_service, job)');
  // destination_service on the server side comes from the inbound cluster's istio metadata
  assert.deepEqual(dst.map((r) => r.metric), [{
    source_workload: 'productpage-v1', source_version: 'v1', connection_security_policy: 'mutual_tls',
    destination_service: 'reviews.default.svc.cluster.local', job: 'envoy-stats',
  }]);
  // Istio's duration histogram with its buckets, Envoy cluster/server stats beside it
  const le = await prom.query('count(istio_request_duration_milliseconds_bucket{reporter="destination",response_code="200"}) by (le)');
  assert.equal(le.length, 20, 'Envoy default buckets + Inf');
  const cluster = await prom.query('sum(envoy_cluster_upstream_rq_total{cluster_name="outbound|9080||reviews.default.svc.cluster.local"})');
  assert.ok(Number(cluster[0]?.value[1]) > 0);
  assert.equal((await prom.query('envoy_server_live'))[0]?.value[1], '1');
});

test('promtool check metrics: both sidecars, stats port and admin port', async () => {
  for (const s of [productpage, reviews]) {
    for (const url of [statsUrl(s), `${s.adminUrl}/stats/prometheus`]) {
      const text = await getText(url);
      assert.match(text, /^istio_requests_total\{reporter="(source|destination)"/m, url);
      const problems = promtool(text);
      for (const p of problems) assert.ok(ALLOWED_LINTS.some((re) => re.test(p)), `unexpected promtool finding at ${url}: ${p}`);
    }
  }
});
