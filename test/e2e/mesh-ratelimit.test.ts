/**
 * Local rate limit the way Istio's rate-limit task does it: its EnvoyFilter YAML (HTTP_FILTER
 * INSERT_BEFORE, a TypedStruct of LocalRateLimit), applied unchanged but for the workload label,
 * through real sidecars: 4 requests a minute pass, the rest get 429 `local_rate_limited` with the
 * configured header, and the sidecar counts them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import { join } from 'node:path';
import { applyConfig, curl, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '79';

const WEB = 8080;
let cp: ControlPlaneProc;
let client: Sidecar;
let server: Sidecar;
let app: http.Server | undefined;

const ISTIO_TASK_ENVOY_FILTER = `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
spec:
  workloadSelector:
    labels:
      app: web
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket:
                max_tokens: 4
                tokens_per_fill: 4
                fill_interval: 60s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append: false
                  header:
                    key: x-local-rate-limit
                    value: 'true'
`;

async function call(): Promise<{ status: number; head: string; body: string }> {
  const out = await curl(['-x', client.outboundUrl, '-sD', '-', `http://web:${WEB}/productpage`]);
  const [head, body] = out.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0), head, body };
}

before(async () => {
  const stateDir = tempDir('clew-e2e-rl-state-');
  const configDir = tempDir('clew-e2e-rl-config-');
  writeFileSync(join(configDir, 'web.yaml'), `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: ${WEB}, targetPort: ${WEB}}
`);
  cp = await startControlPlane(configDir);
  const serverPlan = await planSidecar({ name: 'web', labels: { app: 'web' }, ports: [WEB], xdsAddress: cp.xdsAddress, stateDir });
  app = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200).end('ok'));
  });
  await new Promise<void>((r) => app!.listen(0, serverPlan.address, () => r()));
  const clientPlan = await planSidecar({ name: 'sleep', labels: { app: 'sleep' }, xdsAddress: cp.xdsAddress, stateDir });
  [server, client] = await Promise.all([startSidecar(serverPlan, { [WEB]: (app!.address() as net.AddressInfo).port }), startSidecar(clientPlan)]);
  await waitFor(async () => (await call().catch(() => ({ status: 0 }))).status === 200, 20_000, 'web to answer through the mesh');
}, { timeout: 60_000 });

after(() => {
  app?.close();
});

test("Istio's local rate limit EnvoyFilter: 4 per minute, then 429 local_rate_limited with x-local-rate-limit, counted", async () => {
  await applyConfig(cp, ISTIO_TASK_ENVOY_FILTER);
  // the first 429 shows the filter is in; its bucket then has no tokens left for a minute
  await waitFor(async () => (await call()).status === 429, 15_000, 'the local rate limit to apply');
  const statuses: number[] = [];
  let limited: { head: string; body: string } | undefined;
  for (let i = 0; i < 3; i++) {
    const r = await call();
    statuses.push(r.status);
    limited = r;
  }
  assert.deepEqual(statuses, [429, 429, 429]);
  assert.equal(limited!.body, 'local_rate_limited');
  assert.match(limited!.head, /^x-local-rate-limit: true$/im);
  assert.ok((await server.stat('http_local_rate_limiter.http_local_rate_limit.rate_limited')) >= 4);
  assert.ok((await server.stat('http_local_rate_limiter.http_local_rate_limit.ok')) <= 4, 'at most the bucket passed');
  assert.equal(await server.stat('http_local_rate_limiter.http_local_rate_limit.ok') + await server.stat('http_local_rate_limiter.http_local_rate_limit.rate_limited'),
    await server.stat('http_local_rate_limiter.http_local_rate_limit.enabled'));
});
