/**
 * What a proxy imports, end to end through real proxies configured by the real control plane.
 *
 * VirtualService delegation (issue 25 Must show 3): a root VirtualService on an
 * ingress gateway delegates /reviews and /ratings to delegate VirtualServices in the reviews and
 * ratings namespaces; a real gateway proxy configured by the real control plane routes as Istio's
 * delegation docs describe: the delegate's own matches within the root's (/reviews/v2 to v2, the
 * rest of /reviews to v1), a delegate match merged with the root's (/ratings for end-user jason),
 * the root's policy where the delegate sets none, and nothing for paths no route covers.
 *
 * Sidecar egress scope and exportTo: a client in namespace shop whose Sidecar imports `./*`,
 * `istio-system/*` and `reviews-ns/*` (REGISTRY_ONLY) reaches reviews, not ratings (not imported)
 * and not reviews-private (exported to reviews-ns only); `clew proxy-config clusters` shows the
 * same.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { planPod } from '../../src/local/local-pod.js';
import { freePorts } from '../../src/local/local-ports.js';
import { runClew } from '../helpers/run-clew.js';
import { curl, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '117';

const CONFIG = `apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: reviews-ns}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: ratings-ns}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: v1
kind: Service
metadata:
  name: reviews-private
  namespace: reviews-ns
  annotations: {networking.istio.io/exportTo: "."}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress:
  - hosts: ["./*", "istio-system/*", "reviews-ns/*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: reviews-ns}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: istio-system}
spec:
  hosts: [bookinfo.example.com]
  gateways: [bookinfo-gateway]
  http:
  - name: reviews
    match: [{uri: {prefix: /reviews}}]
    delegate: {name: reviews, namespace: reviews-ns}
    headers:
      response:
        set: {x-root: bookinfo}
  - name: ratings
    match: [{uri: {prefix: /ratings}}]
    delegate: {name: ratings, namespace: ratings-ns}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: reviews-ns}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /reviews/v2}}]
    route: [{destination: {host: reviews, subset: v2}}]
    headers:
      response:
        set: {x-delegate: reviews-v2}
  - name: v1
    route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: ratings-ns}
spec:
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: ratings}}]
`;

let cp: ControlPlaneProc;
let gateway: Sidecar;
let client: Sidecar;
let gw: { host: string; port: number };
const servers: http.Server[] = [];
const leases: Array<() => void> = [];

function listen(srv: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port));
  });
}

/** An app that answers with its name and the path it saw. */
function app(name: string): http.Server {
  const srv = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, path: req.url }));
  });
  servers.push(srv);
  return srv;
}

before(async () => {
  const stateDir = tempDir('clew-e2e-deleg-state-');
  const configDir = tempDir('clew-e2e-deleg-config-');
  writeFileSync(join(configDir, 'config.yaml'), CONFIG);
  cp = await startControlPlane(configDir);
  const pods = [
    { name: 'reviews-v1', namespace: 'reviews-ns', labels: { app: 'reviews', version: 'v1' } },
    { name: 'reviews-v2', namespace: 'reviews-ns', labels: { app: 'reviews', version: 'v2' } },
    { name: 'ratings-v1', namespace: 'ratings-ns', labels: { app: 'ratings', version: 'v1' } },
  ];
  const started: Promise<Sidecar>[] = [];
  // ECDSA workload keys: an RSA key takes seconds to make on a busy machine
  const ecdsa = ['--key-algorithm', 'ecdsa'];
  for (const p of pods) {
    const plan = await planPod({ ...p, serviceAccount: p.name, ports: [9080], xdsAddress: cp.xdsAddress, extraProxyArgs: ecdsa }, stateDir);
    leases.push(() => plan.network.release());
    const appPort = await listen(app(p.name), plan.address);
    started.push(startSidecar(plan, { 9080: appPort }));
  }
  const [port] = await freePorts('127.0.0.1', 1);
  const gwPlan = await planPod({
    name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, serviceAccount: 'istio-ingressgateway-service-account',
    ports: [], xdsAddress: cp.xdsAddress, type: 'router', extraProxyArgs: ['--remap-port', `80=${port}`, ...ecdsa],
  }, stateDir);
  leases.push(() => gwPlan.network.release());
  started.push(startSidecar(gwPlan));
  const clientPlan = await planPod({
    name: 'client', namespace: 'shop', labels: { app: 'client' }, serviceAccount: 'client', ports: [], xdsAddress: cp.xdsAddress, extraProxyArgs: ecdsa,
  }, stateDir);
  leases.push(() => clientPlan.network.release());
  started.push(startSidecar(clientPlan));
  try {
    [gateway, client] = (await Promise.all(started)).slice(-2);
  } catch (err) {
    throw new Error(`${(err as Error).message}\ncontrol plane: ${cp.output().slice(-3000)}`);
  }
  gw = { host: gwPlan.address, port };
  let last = '';
  await waitFor(async () => (last = await get('/reviews/v2/1')).startsWith('200'), 30_000,
    () => `the gateway to route /reviews/v2: ${last}\n${gateway.output().slice(-3000)}\ncontrol plane: ${cp.output().slice(-3000)}`);
}, { timeout: 90_000 });

after(() => {
  for (const s of servers) s.close();
  for (const release of leases) release();
});

/** "<status>\n<headers and body>" through the gateway for bookinfo.example.com, or "ERR ...". */
async function get(path: string, headers: string[] = []): Promise<string> {
  try {
    const out = await curl(['-i', '-H', 'Host: bookinfo.example.com', ...headers.flatMap((h) => ['-H', h]), '-w', '\n%{http_code}', `http://${gw.host}:${gw.port}${path}`], 5);
    const i = out.lastIndexOf('\n');
    return `${out.slice(i + 1)}\n${out.slice(0, i)}`;
  } catch (err) {
    return `ERR ${(err as Error).message}`;
  }
}

const bodyOf = (out: string): any => JSON.parse(out.slice(out.lastIndexOf('\n{') + 1));
const header = (out: string, name: string): string | undefined =>
  new RegExp(`^${name}: (.*?)\\r?$`, 'im').exec(out)?.[1];

test('delegate in reviews-ns: /reviews/v2 goes to v2 with the delegate\'s own headers, the rest of /reviews to v1 with the root\'s', async () => {
  for (let i = 0; i < 4; i++) {
    const v2 = await get('/reviews/v2/1');
    assert.ok(v2.startsWith('200\n'), v2);
    assert.deepEqual(bodyOf(v2), { name: 'reviews-v2', path: '/reviews/v2/1' });
    assert.equal(header(v2, 'x-delegate'), 'reviews-v2');
    // the delegate route sets headers, so the root's are not inherited
    assert.equal(header(v2, 'x-root'), undefined);
    const v1 = await get('/reviews/1');
    assert.ok(v1.startsWith('200\n'), v1);
    assert.deepEqual(bodyOf(v1), { name: 'reviews-v1', path: '/reviews/1' });
    assert.equal(header(v1, 'x-root'), 'bookinfo');
  }
});

test('delegate in ratings-ns: its header match is merged with the root\'s /ratings prefix', async () => {
  const jason = await get('/ratings/0', ['end-user: jason']);
  assert.ok(jason.startsWith('200\n'), jason);
  assert.deepEqual(bodyOf(jason), { name: 'ratings-v1', path: '/ratings/0' });
  // the same path without the delegate's header, and the header on a path outside the root's prefix: no route
  assert.ok((await get('/ratings/0')).startsWith('404\n'));
  assert.ok((await get('/other', ['end-user: jason'])).startsWith('404\n'));
});

/** "<status>\n<body>" of a GET through the client's sidecar, or "ERR ...". */
async function viaClient(url: string): Promise<string> {
  try {
    const out = await curl(['-x', client.outboundUrl, '-w', '\n%{http_code}', url], 5);
    const i = out.lastIndexOf('\n');
    return `${out.slice(i + 1)}\n${out.slice(0, i)}`;
  } catch (err) {
    return `ERR ${(err as Error).message}`;
  }
}

test('Sidecar egress scope and exportTo: the shop client reaches what it imports and nothing else; proxy-config shows its clusters', async () => {
  let last = '';
  await waitFor(async () => (last = await viaClient('http://reviews.reviews-ns:9080/x')).startsWith('200'), 15_000, () => `reviews through the client: ${last}`);
  assert.match(bodyOf(last).name, /^reviews-v[12]$/);
  // ratings-ns is not imported (REGISTRY_ONLY: blocked), reviews-private is exported to reviews-ns only
  assert.ok((await viaClient('http://ratings.ratings-ns:9080/x')).startsWith('502'));
  assert.ok((await viaClient('http://reviews-private.reviews-ns:9080/x')).startsWith('502'));
  const r = await runClew(['proxy-config', 'clusters', 'client.shop', '--control-plane', cp.debugUrl]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /reviews\.reviews-ns\.svc\.cluster\.local/);
  assert.doesNotMatch(r.stdout, /ratings|reviews-private/);
});
