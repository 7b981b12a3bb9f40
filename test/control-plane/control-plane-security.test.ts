/**
 * The control plane's TLS port (istiod's 15012): Istio's CreateCertificate with workload tokens
 * (identity from the token, never the CSR; failures UNAUTHENTICATED), ADS over TLS on the same
 * port, a credential bound to the node it may claim, the root published for clients, citadel
 * metrics. Real grpc-js clients and openssl.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { WorkloadTokens } from '../../src/security/auth/workload-tokens.js';
import { buildNode, type ProxyIdentity } from '../../src/xds/node-metadata.js';
import { TestAdsClient, CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE } from '../helpers/ads-client.js';
import { createCertificate } from '../security/helpers/ca-client.js';
import { makeCsr, makePluginCa, opensslAsync, verifyChain } from '../security/helpers/openssl.js';

let cp: ControlPlane;
let dir: string;
let rootPem: string;
const clients: TestAdsClient[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-sec-'));
  fs.mkdirSync(path.join(dir, 'config'));
  cp = new ControlPlane({ configDir: path.join(dir, 'config'), xdsPort: 0, secureXdsPort: 0, debugPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
  rootPem = fs.readFileSync(path.join(dir, 'config', '.clew', 'root-cert.pem'), 'utf8');
});

after(async () => {
  for (const c of clients) c.close();
  await cp.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const secure = (): string => `127.0.0.1:${cp.secureXdsPort}`;

function productpage(address = '127.0.0.41'): ProxyIdentity {
  return {
    type: 'sidecar', name: 'productpage-v1', namespace: 'default', address,
    labels: { app: 'productpage', version: 'v1' }, serviceAccount: 'bookinfo-productpage',
    interceptionMode: 'NONE', podPorts: [{ containerPort: 9080 }], appPorts: {},
  };
}

async function tokenFor(p: ProxyIdentity): Promise<string> {
  return (await cp.security.mintToken({ namespace: p.namespace, serviceAccount: p.serviceAccount, podName: p.name, addresses: [p.address], labels: p.labels })).token;
}

test('the root is published for clients and the TLS port verifies with it (openssl s_client)', async () => {
  assert.equal(fs.statSync(path.join(dir, 'config', '.clew', 'root-cert.pem')).mode & 0o777, 0o644);
  const caFile = path.join(dir, 'root.pem');
  fs.writeFileSync(caFile, rootPem);
  fs.writeFileSync(path.join(dir, 'other-root.pem'), makePluginCa(path.join(dir, 'other-ca')).rootPem);
  // h2 as gRPC clients offer it (node's HTTP/2 server answers other ALPNs with an HTTP/1.0 403)
  const r = await opensslAsync(['s_client', '-connect', secure(), '-CAfile', caFile, '-verify_return_error', '-verify_ip', '127.0.0.1', '-alpn', 'h2', '-brief']);
  assert.match(r.out, /Verification: OK/, r.out);
  const other = await opensslAsync(['s_client', '-connect', secure(), '-CAfile', path.join(dir, 'other-root.pem'), '-verify_return_error', '-alpn', 'h2', '-brief']);
  assert.notEqual(other.status, 0, 'a client trusting another root refuses the port');
  const res = await fetch(`http://127.0.0.1:${cp.debugPort}/debug/root-cert`);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), rootPem);
});

test('CreateCertificate: the identity comes from the token, the chain ends at the root', async () => {
  const p = productpage();
  const d = path.join(dir, 'csr1');
  const { csrPem, keyPem } = makeCsr(d, { sans: ['URI:spiffe://cluster.local/ns/istio-system/sa/istiod'] });
  const r = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0 }, { token: await tokenFor(p) });
  assert.ok('chain' in r, JSON.stringify(r));
  assert.equal(r.chain.length, 2);
  assert.equal(r.chain[1], rootPem, 'root last');
  const leaf = new crypto.X509Certificate(r.chain[0]);
  assert.equal(leaf.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(keyPem)));
  const v = verifyChain(d, r.chain);
  assert.equal(v.status, 0, v.out);
});

test('CreateCertificate failures: no token, a forged or expired token, impersonation → UNAUTHENTICATED; TTL > 90d → INVALID_ARGUMENT', async () => {
  const { csrPem } = makeCsr(path.join(dir, 'csr2'));
  const none = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0 });
  assert.deepEqual(none, { code: grpc.status.UNAUTHENTICATED, details: 'no credential: send authorization: Bearer <workload token>' });

  // a token from another control plane (another key)
  const otherDir = path.join(dir, 'other');
  const forged = await WorkloadTokens.open(otherDir).mint({ namespace: 'default', serviceAccount: 'bookinfo-productpage', podName: 'productpage-v1' });
  const f = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0 }, { token: forged.token });
  assert.ok('code' in f && f.code === grpc.status.UNAUTHENTICATED, JSON.stringify(f));
  assert.match(f.details, /signature does not verify/);

  // this control plane's key, but minted two hours ago with a one-hour lifetime
  const past = WorkloadTokens.open(path.join(dir, 'config'), () => Date.now() - 2 * 3600_000);
  const old = await past.mint({ namespace: 'default', serviceAccount: 'bookinfo-productpage', podName: 'productpage-v1', expirationSeconds: 3600 });
  const e = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0 }, { token: old.token });
  assert.ok('code' in e && e.code === grpc.status.UNAUTHENTICATED, JSON.stringify(e));
  assert.match(e.details, /expired/);

  const garbage = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0 }, { token: 'not-a-jwt' });
  assert.ok('code' in garbage && garbage.code === grpc.status.UNAUTHENTICATED);

  const token = await tokenFor(productpage());
  const imp = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0, metadata: { ImpersonatedIdentity: 'spiffe://cluster.local/ns/default/sa/reviews' } }, { token });
  assert.ok('code' in imp && imp.code === grpc.status.UNAUTHENTICATED && /ImpersonatedIdentity/.test(imp.details), JSON.stringify(imp));

  const long = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 91 * 24 * 3600 }, { token });
  assert.deepEqual(long, { code: grpc.status.INVALID_ARGUMENT, details: 'requested TTL 2184h0m0s is greater than the max allowed TTL 2160h0m0s' });

  const bad = await createCertificate(secure(), rootPem, { csr: 'hello', validityDuration: 0 }, { token });
  assert.ok('code' in bad && bad.code === grpc.status.INVALID_ARGUMENT);

  const metrics = cp.metrics.render();
  assert.match(metrics, /citadel_server_authentication_failure_count(\{\})? [4-9]/);
  assert.match(metrics, /citadel_server_csr_parsing_err_count(\{\})? 2/);
  assert.match(metrics, /citadel_server_root_cert_expiry_timestamp(\{\})? \d{10}/);
});

test('ADS over TLS on the same port: a credential registers its own workload', async () => {
  const p = productpage('127.0.0.42');
  const c = new TestAdsClient(secure(), buildNode(p), { credentials: grpc.credentials.createSsl(Buffer.from(rootPem)), token: await tokenFor(p) });
  clients.push(c);
  await c.until(() => c.latest.has(CLUSTER_TYPE));
  assert.ok(cp.registry.workloads().some((w) => w.address === '127.0.0.42' && w.namespace === 'default'), 'registered');
  const s = cp.ads.streams().find((x) => x.stream.node?.id === buildNode(p).id)!;
  assert.equal(s.stream.secure, true);
  assert.equal((s.stream.caller as { serviceAccount?: string }).serviceAccount, 'bookinfo-productpage');
  c.close();
});

test('a credential cannot claim another pod, namespace, service account, address or labels: PERMISSION_DENIED, nothing registered', async () => {
  const owner = productpage('127.0.0.43');
  const token = await tokenFor(owner);
  const claims: [string, ProxyIdentity, RegExp][] = [
    ['another pod', { ...owner, name: 'reviews-v1' }, /pod name reviews-v1 is not productpage-v1/],
    ['another namespace', { ...owner, namespace: 'prod' }, /namespace prod is not default/],
    ['another service account', { ...owner, serviceAccount: 'bookinfo-reviews' }, /service account bookinfo-reviews is not bookinfo-productpage/],
    ['a second address', { ...owner, address: '127.0.0.44' }, /address 127.0.0.44 is not one of 127.0.0.43/],
    ['other labels', { ...owner, labels: { app: 'reviews', version: 'v1' } }, /labels \{app=reviews,version=v1\} are not \{app=productpage,version=v1\}/],
  ];
  for (const [what, node, re] of claims) {
    const c = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode(node), { token });
    clients.push(c);
    await c.until(() => c.status !== undefined);
    assert.equal(c.status!.code, grpc.status.PERMISSION_DENIED, what);
    assert.match(c.status!.details, re, what);
    assert.equal(c.received.length, 0, `${what}: nothing sent`);
  }
  assert.ok(!cp.registry.workloads().some((w) => ['127.0.0.43', '127.0.0.44'].includes(w.address) || w.namespace === 'prod'), 'nothing registered');
});

test('a bad credential on ADS ends the stream UNAUTHENTICATED before anything is sent', async () => {
  const c = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode(productpage('127.0.0.45')), { token: 'not-a-jwt' });
  clients.push(c);
  await c.until(() => c.status !== undefined);
  assert.equal(c.status!.code, grpc.status.UNAUTHENTICATED);
  assert.equal(c.received.length, 0);
  assert.ok(!cp.registry.workloads().some((w) => w.address === '127.0.0.45'));
});

test('clew control-plane: a bad plug-in CA or TTL is a startup error naming the file or flag', async () => {
  const { runClew } = await import('../helpers/run-clew.js');
  const expired = makePluginCa(path.join(dir, 'expired-ca'), { intermediateDays: -1 });
  const args = (...more: string[]) => ['control-plane', '--config-dir', path.join(dir, 'cli'), '--xds-port', '0', '--secure-xds-port', '0', '--debug-port', '0', ...more];
  const r1 = await runClew(args('--ca-dir', expired.dir));
  assert.equal(r1.code, 1, r1.stderr);
  assert.match(r1.stderr, new RegExp(`certificate authority: ${expired.dir}/ca-cert.pem: certificate .* expired on .*; not starting`));
  const r2 = await runClew(args('--workload-cert-ttl', '91d'));
  assert.equal(r2.code, 1, r2.stderr);
  assert.match(r2.stderr, /--workload-cert-ttl: 2184h0m0s is greater than the max allowed TTL 2160h0m0s/);
  const r3 = await runClew(args('--workload-cert-ttl', 'soon'));
  assert.equal(r3.code, 2, r3.stderr);
  assert.match(r3.stderr, /--workload-cert-ttl: invalid duration "soon"/);
});

test('Must show 4 (control plane): a spoofed node id gets no registration and no traffic; entries leave with their stream', async () => {
  fs.writeFileSync(path.join(dir, 'config', 'productpage.yaml'), `apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: default}
spec:
  selector: {app: productpage}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
`);
  cp.store.reload();
  const CLUSTER = 'outbound|9080||productpage.default.svc.cluster.local';
  const endpointsOf = (c: TestAdsClient): string[] => {
    const e = c.latest.get(ENDPOINT_TYPE)?.resources.find((x) => x.cluster_name === CLUSTER);
    return (e?.endpoints?.[0]?.lb_endpoints ?? []).map((l: any) => l.endpoint.address.socket_address.address).sort();
  };
  const workloadsFile = (): string => fs.readFileSync(path.join(dir, 'config', '.clew', 'proxy-workloads.json'), 'utf8');
  // the caller (a gateway-like client with its own credential) and the real productpage
  const watcherId: ProxyIdentity = { ...productpage('127.0.0.50'), name: 'watcher', labels: { app: 'watcher' }, serviceAccount: 'watcher', podPorts: [] };
  const watcher = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode(watcherId), { token: await tokenFor(watcherId) });
  const realId = productpage('127.0.0.51');
  const real = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode(realId), { token: await tokenFor(realId) });
  clients.push(watcher, real);
  await watcher.until(() => endpointsOf(watcher).join() === '127.0.0.51', 10_000);

  // 1. no credential, claiming productpage-v1 at another address (the 2.5 s spoof of the issue)
  const anonId = productpage('127.0.0.66');
  const anon = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode(anonId));
  clients.push(anon);
  await anon.until(() => anon.latest.has(LISTENER_TYPE) && anon.latest.has(CLUSTER_TYPE));
  // served as a proxyless client: outbound clusters, but no inbound listener of productpage
  assert.ok(anon.latest.get(CLUSTER_TYPE)!.resources.some((c) => c.name === CLUSTER));
  const anonListeners = anon.latest.get(LISTENER_TYPE)!.resources.map((l) => l.name as string);
  assert.ok(!anonListeners.some((n) => n.includes('127.0.0.66') || n === 'virtualInbound'), `no inbound listener: ${anonListeners}`);
  // 2. productpage's name with reviews' credential
  const reviewsId: ProxyIdentity = { ...productpage('127.0.0.67'), name: 'reviews-v1', serviceAccount: 'bookinfo-reviews', labels: { app: 'reviews', version: 'v1' } };
  const stolen = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode(productpage('127.0.0.67')), { token: await tokenFor(reviewsId) });
  clients.push(stolen);
  await stolen.until(() => stolen.status !== undefined);
  assert.equal(stolen.status!.code, grpc.status.PERMISSION_DENIED);
  // 3. a new id with productpage's labels and no credential
  const lookalike = new TestAdsClient(`127.0.0.1:${cp.xdsPort}`, buildNode({ ...productpage('127.0.0.68'), name: 'productpage-v9' }));
  clients.push(lookalike);
  await lookalike.until(() => lookalike.latest.has(CLUSTER_TYPE));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(endpointsOf(watcher), ['127.0.0.51'], 'traffic still goes to the real productpage only');
  assert.deepEqual(cp.registry.instances('productpage.default.svc.cluster.local', 9080).map((i) => i.endpoint.address), ['127.0.0.51']);
  assert.doesNotMatch(workloadsFile(), /127\.0\.0\.6[678]/, 'nothing spoofed was saved');
  // and the spoofer gets no certificate
  const { csrPem } = makeCsr(path.join(dir, 'csr-spoof'));
  const csr = await createCertificate(secure(), rootPem, { csr: csrPem, validityDuration: 0 });
  assert.ok('code' in csr && csr.code === grpc.status.UNAUTHENTICATED);

  // the real workload leaves with its stream: no grace, gone from EDS and from the saved file
  real.close();
  await watcher.until(() => endpointsOf(watcher).length === 0, 3000);
  assert.doesNotMatch(workloadsFile(), /127\.0\.0\.51/);
  anon.close();
  lookalike.close();
  watcher.close();
});
