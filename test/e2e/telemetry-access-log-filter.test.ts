/**
 * Istio's Telemetry access-log filter end to end: a Telemetry with
 * `filter: {expression: "response.code >= 400"}` goes through Clew's real control plane as the CEL
 * extension filter, and real sidecars (productpage-v1 calling reviews-v2) write only the failing
 * request to the provider's access log file; the successful ones (including the readiness
 * calls) are not written.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { planSidecar, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';
import { startControlPlaneWithMesh, viaSidecar } from './telemetry-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '74';

const logDir = tempDir('clew-e2e-cel-log-');
const LOG = join(logDir, 'errors.log');

const CONFIG = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging:
  - providers: [{name: errors-file}]
    filter:
      expression: response.code >= 400
`;
const MESH = `enableTracing: false
extensionProviders:
- name: errors-file
  envoyFileAccessLog:
    path: ${LOG}
    logFormat:
      text: "%RESPONSE_CODE% %REQ(:PATH)% %DOWNSTREAM_LOCAL_ADDRESS%\\n"
`;

let cp: ControlPlaneProc;
let productpage: Sidecar;
let reviews: Sidecar;
let app: http.Server;

before(async () => {
  const stateDir = tempDir('clew-e2e-cel-state-');
  const configDir = tempDir('clew-e2e-cel-config-');
  writeFileSync(join(configDir, 'config.yaml'), CONFIG);
  cp = await startControlPlaneWithMesh(configDir, MESH);
  const reviewsPlan = await planSidecar({ name: 'reviews-v2', labels: { app: 'reviews', version: 'v2' }, ports: [9080], xdsAddress: cp.xdsAddress, stateDir });
  app = http.createServer((req, res) => {
    req.resume();
    const m = /^\/status\/(\d{3})/.exec(req.url ?? '');
    res.writeHead(m ? Number(m[1]) : 200, { 'content-type': 'text/plain' }).end('ok');
  });
  const appPort = await new Promise<number>((r) => app.listen(0, reviewsPlan.address, () => r((app.address() as { port: number }).port)));
  const ppPlan = await planSidecar({ name: 'productpage-v1', labels: { app: 'productpage', version: 'v1' }, xdsAddress: cp.xdsAddress, stateDir });
  [reviews, productpage] = await Promise.all([startSidecar(reviewsPlan, { 9080: appPort }), startSidecar(ppPlan)]);
  await waitFor(async () => {
    try {
      return (await viaSidecar(productpage.outbound, 'http://reviews:9080/ready-check')).status === 200;
    } catch {
      return false;
    }
  }, 40_000, () => `reviews to answer through the mesh; productpage: ${productpage.output().slice(-2000)}`);
}, { timeout: 90_000 });

after(() => {
  app?.close();
});

const lines = () => (existsSync(LOG) ? readFileSync(LOG, 'utf8').split('\n').filter(Boolean) : []);

test('response.code >= 400: both sidecars log the failing request only', { timeout: 30_000 }, async () => {
  for (const p of ['/ok-1', '/status/500', '/ok-2']) {
    const r = await viaSidecar(productpage.outbound, `http://reviews:9080${p}`);
    assert.equal(r.status, p === '/status/500' ? 500 : 200);
  }
  // one line from productpage's outbound listener, one from reviews' inbound (writers flush within a second)
  await waitFor(() => lines().filter((l) => l.startsWith('500 /status/500 ')).length >= 2, 10_000,
    () => `two 500 lines in ${LOG}: ${JSON.stringify(lines())}\nproductpage: ${productpage.output().slice(-1500)}\nreviews: ${reviews.output().slice(-1500)}`);
  // one more flush period: a 200 line, had it been written, would be there by now
  await new Promise((r) => setTimeout(r, 1200));
  const all = lines();
  assert.deepEqual(all.filter((l) => !l.startsWith('500 ')), [], 'no successful request is logged');
  // a 500 is not retried (Istio retries 503): exactly one line per sidecar
  assert.deepEqual(all.sort(), [
    `500 /status/500 ${productpage.outbound.host}:${productpage.outbound.port}`,
    `500 /status/500 ${reviews.address}:9080`,
  ].sort());
});
