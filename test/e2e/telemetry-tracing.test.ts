/**
 * Observability must-show 2, on a real mesh configured by Clew's real control plane: a request
 * through the ingress gateway -> a (sidecar, app calls b forwarding the trace headers) -> b.
 * The spans every hop reports form one tree with the right parents and Istio's tags: first
 * through a Zipkin v2 receiver (the mesh's default provider), then, after a Telemetry resource
 * switches the mesh to an OpenTelemetry provider at 100 % sampling, through an OTLP receiver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import { planPod } from '../../src/local/local-pod.js';
import { freePorts } from '../../src/local/local-ports.js';
import { applyConfig, planSidecar, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';
import { startControlPlaneWithMesh, startSpanReceiver, viaSidecar, type SpanReceiver } from './telemetry-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '71';

const CONFIG = `apiVersion: v1
kind: Service
metadata: {name: a, namespace: default}
spec:
  selector: {app: a}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: default}
spec:
  selector: {app: b}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: a, namespace: default}
spec:
  hosts: ['*']
  gateways: [gw]
  http:
  - route:
    - destination: {host: a, port: {number: 9080}}
`;

const TRACE_HEADERS = ['x-request-id', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'b3', 'traceparent', 'tracestate'];
const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let cp: ControlPlaneProc;
let zipkin: SpanReceiver;
let otlp: SpanReceiver;
let gateway: Sidecar;
let gwUrl: string;
let a: Sidecar;
let b: Sidecar;
const apps: http.Server[] = [];
const seenByB: http.IncomingHttpHeaders[] = [];

function listen(srv: http.Server, host: string): Promise<number> {
  return new Promise((resolve) => srv.listen(0, host, () => resolve((srv.address() as { port: number }).port)));
}

before(async () => {
  zipkin = await startSpanReceiver();
  otlp = await startSpanReceiver();
  const stateDir = tempDir('clew-e2e-tracing-state-');
  const configDir = tempDir('clew-e2e-tracing-config-');
  writeFileSync(join(configDir, 'mesh-apps.yaml'), CONFIG);
  cp = await startControlPlaneWithMesh(
    configDir,
    [
      'extensionProviders:',
      `- name: zipkin`,
      `  zipkin: {service: 127.0.0.1, port: ${zipkin.port}}`,
      `- name: otel`,
      `  opentelemetry: {service: 127.0.0.1, port: ${otlp.port}, http: {path: /v1/traces}}`,
      'defaultProviders:',
      '  tracing: [zipkin]',
      '',
    ].join('\n'),
  );

  const bPlan = await planSidecar({ name: 'b-v1', labels: { app: 'b', version: 'v1' }, ports: [9080], xdsAddress: cp.xdsAddress, stateDir });
  const bApp = http.createServer((req, res) => {
    req.resume();
    seenByB.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('b');
  });
  const aPlan = await planSidecar({ name: 'a-v1', labels: { app: 'a', version: 'v1' }, ports: [9080], xdsAddress: cp.xdsAddress, stateDir });
  // a's app calls b through its sidecar and forwards the trace headers, as Istio asks apps to
  const aApp = http.createServer((req, res) => {
    req.resume();
    const fwd: http.OutgoingHttpHeaders = {};
    for (const h of TRACE_HEADERS) if (req.headers[h] !== undefined) fwd[h] = req.headers[h];
    viaSidecar(a.outbound, `http://b:9080${req.url}`, fwd).then(
      (r) => res.writeHead(r.status, { 'content-type': 'text/plain' }).end(`a>${r.body}`),
      (err: Error) => res.writeHead(502).end(err.message),
    );
  });
  apps.push(aApp, bApp);
  const [gwPort] = await freePorts('127.0.0.1', 1);
  const gwPlan = await planPod(
    {
      name: 'istio-ingressgateway',
      namespace: 'istio-system',
      labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
      serviceAccount: 'istio-ingressgateway-service-account',
      ports: [],
      xdsAddress: cp.xdsAddress,
      type: 'router',
      extraProxyArgs: ['--remap-port', `80=${gwPort}`],
    },
    stateDir,
  );
  after(() => gwPlan.network.release());
  gwUrl = `http://${gwPlan.address}:${gwPort}`;
  const [aPort, bPort] = [await listen(aApp, aPlan.address), await listen(bApp, bPlan.address)];
  [a, b, gateway] = await Promise.all([startSidecar(aPlan, { 9080: aPort }), startSidecar(bPlan, { 9080: bPort }), startSidecar(gwPlan)]);
  // the chain answers once every sidecar has the others' endpoints (unsampled: no spans)
  let last = '';
  await waitFor(async () => {
    const r = await get('/ready-check', { 'x-b3-sampled': '0' }).catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${r.status} ${r.body}`;
    return r.status === 200;
  }, 40_000, () => `gateway -> a -> b; last answer: ${last}; gateway: ${gateway.output().slice(-2000)}`);
}, { timeout: 90_000 });

after(async () => {
  for (const s of apps) s.close();
  await zipkin?.close();
  await otlp?.close();
});

/** Runs a test body; a failure carries the proxies' and the control plane's output. */
async function withLogs(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const logs = [['gateway', gateway], ['a', a], ['b', b], ['control plane', cp]] as const;
    (err as Error).message += logs.map(([n, p]) => `\n--- ${n}:\n${p?.output().slice(-3000) ?? ''}`).join('');
    throw err;
  }
}

function get(path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${gwUrl}${path}`, { headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

interface Span {
  traceId: string;
  id: string;
  parentId?: string;
  kind: 'CLIENT' | 'SERVER';
  name: string;
  service: string;
  tags: Record<string, string>;
}

/** The four spans of one request as a chain root -> leaf, checking the tree on the way. */
function chain(spans: Span[]): Span[] {
  assert.equal(spans.length, 4, JSON.stringify(spans, null, 1));
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, 'one trace');
  assert.equal(new Set(spans.map((s) => s.id)).size, 4, 'distinct span ids');
  const roots = spans.filter((s) => !s.parentId);
  assert.equal(roots.length, 1, 'one root');
  const out = [roots[0]];
  while (out.length < spans.length) {
    const kids = spans.filter((s) => s.parentId === out[out.length - 1].id);
    assert.equal(kids.length, 1, `one child of ${out[out.length - 1].name}`);
    out.push(kids[0]);
  }
  return out;
}

function checkHops(hops: Span[], path: string): void {
  // gateway (client of a) -> a's inbound (server) -> a's outbound (client of b) -> b's inbound (server)
  assert.deepEqual(hops.map((s) => `${s.service}:${s.kind}`), ['istio-ingressgateway.istio-system:CLIENT', 'a.default:SERVER', 'a.default:CLIENT', 'b.default:SERVER']);
  assert.deepEqual(hops.map((s) => s.tags.upstream_cluster), [
    'outbound|9080||a.default.svc.cluster.local',
    'inbound|9080||',
    'outbound|9080||b.default.svc.cluster.local',
    'inbound|9080||',
  ]);
  assert.deepEqual(hops.map((s) => s.tags['istio.canonical_service']), ['istio-ingressgateway', 'a', 'a', 'b']);
  assert.deepEqual(hops.map((s) => s.tags['istio.namespace']), ['istio-system', 'default', 'default', 'default']);
  const rid = hops[0].tags['guid:x-request-id'];
  assert.match(rid, UUID4, 'x-request-id generated at the edge');
  for (const s of hops) {
    assert.equal(s.tags['guid:x-request-id'], rid, 'one request id through the chain');
    assert.equal(s.tags['http.status_code'], '200');
    assert.equal(s.tags['http.method'], 'GET');
    assert.ok(s.tags['http.url'].endsWith(path), s.tags['http.url']);
    assert.equal(s.tags.response_flags, '-');
    assert.equal(s.tags.component, 'proxy');
    assert.match(s.tags.node_id, /^(sidecar|router)~/);
    assert.equal(s.tags['istio.mesh_id'], 'cluster.local');
  }
  assert.ok(seenByB.some((h) => h['x-request-id'] === rid && h['x-b3-traceid'] === hops[0].traceId), 'b saw the same request and trace ids');
}

test('Zipkin: gateway -> a -> b forced by x-b3-sampled: 1 is one tree of four spans with Istio tags; x-b3-sampled: 0 reports none', { timeout: 30_000 }, () => withLogs(async () => {
  const off = await get('/unsampled', { 'x-b3-sampled': '0' });
  assert.equal(off.status, 200);
  const on = await get('/sampled', { 'x-b3-sampled': '1' });
  assert.equal(on.status, 200);
  assert.equal(on.body, 'a>b');
  const mine = (): Span[] =>
    zipkin.spans
      .filter((s) => s.tags?.['http.url']?.endsWith('/sampled'))
      .map((s) => ({ traceId: s.traceId, id: s.id, parentId: s.parentId, kind: s.kind, name: s.name, service: s.localEndpoint?.serviceName, tags: s.tags }));
  await waitFor(() => mine().length >= 4, 10_000, () => `4 zipkin spans; have ${JSON.stringify(zipkin.spans)}`);
  const hops = chain(mine());
  checkHops(hops, '/sampled');
  assert.equal(hops[0].traceId.length, 32, '128-bit trace ids');
  assert.deepEqual(zipkin.paths.filter((p) => p !== '/api/v2/spans'), [], 'Zipkin v2 endpoint');
  // every proxy's queue is FIFO: unsampled spans, had there been any, would have come first
  assert.equal(zipkin.spans.filter((s) => s.tags?.['http.url']?.endsWith('/unsampled')).length, 0);
  assert.equal(zipkin.spans.filter((s) => s.tags?.['http.url']?.endsWith('/ready-check')).length, 0);
  assert.equal(otlp.spans.length, 0);
}));

test('OTLP: a Telemetry resource selects the OpenTelemetry provider at 100 %: the same tree arrives over OTLP/HTTP', { timeout: 40_000 }, () => withLogs(async () => {
  await applyConfig(
    cp,
    `apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  tracing:
  - providers: [{name: otel}]
    randomSamplingPercentage: 100
`,
  );
  // no trace header at all: sampled by the configured percentage once every hop has the new config
  let n = 0;
  let hops: Span[] | undefined;
  await waitFor(async () => {
    const path = `/otlp-${n++}`;
    assert.equal((await get(path)).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    const spans = otlp.spans
      .filter((s) => s.attributes?.some((x: any) => x.key === 'http.url' && x.value.stringValue.endsWith(path)))
      .map((s) => ({
        traceId: s.traceId,
        id: s.spanId,
        parentId: s.parentSpanId,
        kind: s.kind === 2 ? 'SERVER' : s.kind === 3 ? 'CLIENT' : `kind ${s.kind}`,
        name: s.name,
        service: s.serviceName,
        tags: Object.fromEntries(s.attributes.map((x: any) => [x.key, x.value.stringValue])),
      })) as Span[];
    if (spans.length === 4) {
      hops = chain(spans);
      checkHops(hops, path);
    }
    return hops !== undefined;
  }, 30_000, () => `a complete OTLP trace; received ${otlp.spans.length} spans on ${JSON.stringify(otlp.paths)}`);
  assert.ok(otlp.paths.every((p) => p === '/v1/traces'));
  // span names are the routes' decorators (Istio's `<host>:<port>/*`, `inbound|<port>||/*`)
  assert.deepEqual(hops!.map((s) => s.name), ['a.default.svc.cluster.local:9080/*', 'inbound|9080||/*', 'b.default.svc.cluster.local:9080/*', 'inbound|9080||/*']);
}));
