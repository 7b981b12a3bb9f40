/**
 * The validating admission webhook on a real kube-apiserver: the control plane patches the
 * webhook configuration's caBundle with its CA's root, `kubectl apply` of an invalid
 * VirtualService is refused with the messages `clew validate` prints for the same file, and a
 * valid one is admitted and gets its status written; pods come back injected as
 * `clew kube-inject` injects them; a sidecar's projected service-account token, checked by
 * TokenReview, gets its certificate and registers its own pod only.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kubeApiServerSkip, startKubeApiServer, type KubeApiServer } from '../helpers/kube-api-server.js';
import { CLEW_BIN } from '../helpers/paths.js';
import { ControlPlane } from '../../src/control-plane/control-plane.js';
import { KubeClient } from '../../src/kube/kube-client.js';
import { KubeSources } from '../../src/kube/kube-sources.js';
import { KubeWebhooks, MUTATING_WEBHOOK_CONFIG, VALIDATING_WEBHOOK_CONFIG } from '../../src/kube/kube-webhooks.js';
import { meshHoldApplication } from '../../src/kube/inject/inject-pod.js';
import { parse as parseYaml } from 'yaml';
import * as crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { applyCrds, createRunningPod, must, until } from './kube-fixtures.js';
import { KubeTokenReviewAuthenticator } from '../../src/kube/kube-token-review.js';
import { buildNode } from '../../src/xds/node-metadata.js';
import { TestAdsClient, CLUSTER_TYPE } from '../helpers/ads-client.js';
import { createCertificate } from '../security/helpers/ca-client.js';
import { makeCsr } from '../security/helpers/openssl.js';

const skip = kubeApiServerSkip();
let api: KubeApiServer;
let kube: KubeSources;
let cp: ControlPlane;
let webhooks: KubeWebhooks;
let dir: string;
const logs: string[] = [];

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-kube-webhook-'));
  api = await startKubeApiServer();
  await applyCrds(api, dir);
  await api.kubectl(['create', 'namespace', 'istio-system']);
  kube = new KubeSources(KubeClient.fromFile(api.kubeconfig), { backoffMs: 100, maxBackoffMs: 1000, renewMs: 500, log: (l) => logs.push(l) });
  await kube.start();
  fs.mkdirSync(path.join(dir, 'config'));
  // the mesh default the injector reads at each admission (native sidecars are gated by their startupProbe anyway)
  fs.writeFileSync(path.join(dir, 'mesh.yaml'), 'defaultConfig:\n  holdApplicationUntilProxyStarts: true\n');
  cp = new ControlPlane({
    meshConfigFile: path.join(dir, 'mesh.yaml'),
    configDir: path.join(dir, 'config'), xdsPort: 0, debugPort: 0, secureXdsPort: 0, publishToken: false, debounceMs: 50,
    registries: [kube.registrySource()], configSources: [kube.configSource()], log: (l) => logs.push(l),
    authenticators: [new KubeTokenReviewAuthenticator(kube.client)],
  });
  await cp.start();
  kube.publishRootCert(() => cp.security.ca.rootCertPem(), (l) => logs.push(l));
  webhooks = await KubeWebhooks.start({
    client: kube.client, ca: cp.security.ca, host: '127.0.0.1', port: 0, backoffMs: 100, maxBackoffMs: 1000, log: (l) => logs.push(l),
    namespaceLabels: (ns) => kube.registry.namespaceLabels(ns),
    injectDefaults: () => ({ holdApplicationUntilProxyStarts: meshHoldApplication(cp.meshConfig()) }),
  });
  // as `clew install` writes it, but with the test's URL instead of istiod's Service, and no caBundle yet
  await must(api, 'POST', '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration',
    metadata: { name: VALIDATING_WEBHOOK_CONFIG },
    webhooks: [{
      name: 'validation.istio.io',
      clientConfig: { url: `https://127.0.0.1:${webhooks.port}/validate` },
      rules: [{
        operations: ['CREATE', 'UPDATE'], apiGroups: ['networking.istio.io', 'security.istio.io', 'telemetry.istio.io'],
        apiVersions: ['*'], resources: ['*'],
      }],
      failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 10,
    }],
  });
  await must(api, 'POST', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration',
    metadata: { name: MUTATING_WEBHOOK_CONFIG },
    webhooks: [{
      name: 'namespace.sidecar-injector.istio.io',
      clientConfig: { url: `https://127.0.0.1:${webhooks.port}/inject` },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      namespaceSelector: { matchExpressions: [{ key: 'istio-injection', operator: 'In', values: ['enabled'] }] },
      objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
      failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], reinvocationPolicy: 'Never', timeoutSeconds: 10,
    }],
  });
});

after(async () => {
  await webhooks?.stop();
  await cp?.stop();
  await kube?.stop();
  await api?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const BAD = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews-bad
  namespace: default
spec:
  hosts: [reviews]
  http:
    - timeout: soon
      route:
        - destination: {host: reviews}
          weight: -5
`;

const GOOD = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: reviews-good
  namespace: default
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: {host: reviews, subset: v1}
`;

test('the control plane writes its CA root into the webhook configuration\'s caBundle', { skip }, async () => {
  const root = Buffer.from(cp.security.ca.rootCertPem()).toString('base64');
  const cfg = await until('caBundle patched', async () => {
    const o = await must(api, 'GET', `/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/${VALIDATING_WEBHOOK_CONFIG}`);
    return o.webhooks[0].clientConfig.caBundle ? o : undefined;
  });
  assert.equal(cfg.webhooks[0].clientConfig.caBundle, root);
  const mut = await until('mutating caBundle patched', async () => {
    const o = await must(api, 'GET', `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${MUTATING_WEBHOOK_CONFIG}`);
    return o.webhooks[0].clientConfig.caBundle ? o : undefined;
  });
  assert.equal(mut.webhooks[0].clientConfig.caBundle, root);
  // the patcher counts a patch when its PATCH answers, which can come after the API already shows it
  await until('both patches counted', async () => (webhooks.patcher.patched >= 2 ? true : undefined));
  assert.equal(webhooks.patcher.patched, 2);
});

test('kubectl apply of an invalid VirtualService is refused with clew validate\'s messages; a valid one is admitted and gets its status', { skip }, async () => {
  await until('caBundle patched', async () => (webhooks.patcher.patched > 0 ? true : undefined));
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, BAD);
  // what `clew validate` says of the same file, without its file:line prefix
  let validateOut = '';
  try {
    execFileSync(process.execPath, [CLEW_BIN, 'validate', '-f', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
    assert.fail('clew validate accepted the file');
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer };
    validateOut = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`;
  }
  const expected = validateOut.split('\n').filter((l) => l.startsWith(`${bad}:`)).map((l) => l.replace(/^[^:]+:\d+: /, ''));
  assert.ok(expected.length >= 2, validateOut);

  // the webhook is Fail-closed: kubectl gets the API server's refusal, nothing is stored
  let refusal = '';
  try {
    await api.kubectl(['apply', '-f', bad]);
    assert.fail('the API server accepted an invalid VirtualService');
  } catch (err) {
    refusal = (err as { stderr?: string }).stderr ?? '';
  }
  assert.match(refusal, /admission webhook "validation\.istio\.io" denied the request: configuration is invalid: /);
  for (const m of expected) assert.ok(refusal.includes(m), `kubectl's refusal lacks "${m}":\n${refusal}`);
  const r = await api.request('GET', '/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews-bad');
  assert.equal(r.status, 404);

  await api.kubectl(['apply', '-f', '-'], GOOD);
  const ok = await until('status of reviews-good', async () => {
    const o = await must(api, 'GET', '/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews-good');
    return o.status?.conditions ? o : undefined;
  });
  assert.deepEqual(ok.status.conditions.map((c: any) => [c.type, c.status]), [['Reconciled', 'True']]);
  assert.equal(String(ok.status.observedGeneration), String(ok.metadata.generation));
  assert.ok(cp.allConfig().some((c) => c.kind === 'VirtualService' && c.metadata.name === 'reviews-good'));
  assert.equal(webhooks.server.counts.get('/validate denied'), 1);
  assert.ok((webhooks.server.counts.get('/validate allowed') ?? 0) >= 1);
});

const podYaml = (name: string, ns: string, extraLabels = '') => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app: reviews
    version: v2${extraLabels}
  annotations:
    traffic.sidecar.istio.io/excludeOutboundIPRanges: 10.0.0.0/8
spec:
  serviceAccountName: bookinfo-reviews
  containers:
    - name: reviews
      image: clew:latest
      ports:
        - containerPort: 9080
`;

test('a pod created in a labelled namespace comes back injected as clew kube-inject injects it; opted-out pods and other namespaces are untouched', { skip }, async () => {
  await until('both webhook configurations patched', async () => (webhooks.patcher.patched >= 2 ? true : undefined));
  for (const [ns, labels] of [['mesh', { 'istio-injection': 'enabled' }], ['plain', {}]] as const) {
    await must(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } });
    await must(api, 'POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bookinfo-reviews' } });
  }
  const file = path.join(dir, 'pod.yaml');
  fs.writeFileSync(file, podYaml('reviews-v2', 'mesh'));
  await api.kubectl(['apply', '-f', file]);
  const pod = await must(api, 'GET', '/api/v1/namespaces/mesh/pods/reviews-v2');

  // the same manifest through clew kube-inject, offline
  const offline = parseYaml(execFileSync(process.execPath, [CLEW_BIN, 'kube-inject', '-f', file]).toString());
  const shape = (p: any) => ({
    init: (p.spec.initContainers ?? []).map((c: any) => [c.name, c.image, c.args, c.restartPolicy ?? null]),
    containers: p.spec.containers.map((c: any) => [c.name, c.image, c.args ?? null]),
    volumes: (p.spec.volumes ?? []).filter((v: any) => !v.name.startsWith('kube-api-access')).map((v: any) => v.name),
    status: p.metadata.annotations['sidecar.istio.io/status'],
    tlsMode: p.metadata.labels['security.istio.io/tlsMode'],
  });
  assert.deepEqual(shape(pod), shape(offline));
  const init = pod.spec.initContainers;
  assert.deepEqual(init.map((c: any) => c.name), ['istio-init', 'istio-proxy']);
  assert.equal(init[1].restartPolicy, 'Always', 'a native sidecar');
  assert.deepEqual(init[0].args.slice(0, 9), ['iptables', '-p', '15001', '-z', '15006', '-u', '1337', '-m', 'REDIRECT']);
  assert.equal(init[0].args[init[0].args.indexOf('-x') + 1], '10.0.0.0/8', 'the annotation\'s exclusion reaches clew iptables');
  assert.ok(init[1].args.includes('--labels') && init[1].args[init[1].args.indexOf('--labels') + 1] === 'app=reviews,version=v2');
  const token = pod.spec.volumes.find((v: any) => v.name === 'istio-token');
  assert.equal(token.projected.sources[0].serviceAccountToken.audience, 'istio-ca');
  assert.deepEqual(JSON.parse(pod.metadata.annotations['sidecar.istio.io/status']).initContainers, ['istio-init', 'istio-proxy']);

  // opted out by its label, and a namespace without the label: untouched
  fs.writeFileSync(file, podYaml('reviews-out', 'mesh', '\n    sidecar.istio.io/inject: "false"'));
  await api.kubectl(['apply', '-f', file]);
  fs.writeFileSync(path.join(dir, 'plain.yaml'), podYaml('reviews-plain', 'plain'));
  await api.kubectl(['apply', '-f', path.join(dir, 'plain.yaml')]);
  for (const [ns, name] of [['mesh', 'reviews-out'], ['plain', 'reviews-plain']]) {
    const p = await must(api, 'GET', `/api/v1/namespaces/${ns}/pods/${name}`);
    assert.deepEqual(p.spec.containers.map((c: any) => c.name), ['reviews'], `${ns}/${name}`);
    assert.equal(p.spec.initContainers, undefined, `${ns}/${name}`);
    assert.equal(p.metadata.annotations?.['sidecar.istio.io/status'], undefined, `${ns}/${name}`);
  }
  assert.equal(webhooks.server.counts.get('/inject allowed'), 1, 'only the labelled namespace\'s opted-in pod reached the webhook (namespaceSelector, objectSelector)');
});

test('a sidecar\'s projected token (audience istio-ca) is checked by TokenReview: its own certificate and pod only; other audiences and deleted pods get nothing', { skip }, async () => {
  await must(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tokens' } });
  for (const sa of ['reviews', 'ratings']) {
    await must(api, 'POST', '/api/v1/namespaces/tokens/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: sa } });
  }
  await createRunningPod(api, { name: 'reviews-1', namespace: 'tokens', labels: { app: 'reviews' }, serviceAccount: 'reviews', ip: '127.0.0.61' });
  await createRunningPod(api, { name: 'ratings-1', namespace: 'tokens', labels: { app: 'ratings' }, serviceAccount: 'ratings', ip: '127.0.0.62' });
  // the kubelet's projected token: TokenRequest bound to the pod
  const tokenFor = async (sa: string, pod: string, audience = 'istio-ca') => {
    const o = await must(api, 'GET', `/api/v1/namespaces/tokens/pods/${pod}`);
    const r = await must(api, 'POST', `/api/v1/namespaces/tokens/serviceaccounts/${sa}/token`, {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
      spec: { audiences: [audience], expirationSeconds: 600, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: pod, uid: o.metadata.uid } },
    });
    return r.status.token as string;
  };
  const rootPem = cp.security.ca.rootCertPem();
  const secure = `127.0.0.1:${cp.secureXdsPort}`;
  const { csrPem } = makeCsr(path.join(dir, 'csr'), { sans: ['URI:spiffe://cluster.local/ns/tokens/sa/ratings'] });

  const reviewsToken = await tokenFor('reviews', 'reviews-1');
  const ok = await createCertificate(secure, rootPem, { csr: csrPem, validityDuration: 0 }, { token: reviewsToken });
  assert.ok('chain' in ok, JSON.stringify(ok));
  assert.equal(new crypto.X509Certificate(ok.chain[0]).subjectAltName, 'URI:spiffe://cluster.local/ns/tokens/sa/reviews', 'the identity is the token\'s, not the CSR\'s');

  const otherAudience = await createCertificate(secure, rootPem, { csr: csrPem, validityDuration: 0 }, { token: await tokenFor('reviews', 'reviews-1', 'vault') });
  assert.ok('code' in otherAudience && otherAudience.code === grpc.status.UNAUTHENTICATED, JSON.stringify(otherAudience));
  assert.match(otherAudience.details, /kubernetes-token-review: TokenReview: not authenticated/);

  // the reviews pod's token cannot register ratings' pod, nor another address
  const node = (name: string, sa: string, address: string, app: string) => buildNode({
    type: 'sidecar', name, namespace: 'tokens', address, labels: { app }, serviceAccount: sa,
    interceptionMode: 'NONE', podPorts: [{ containerPort: 9080 }], appPorts: {},
  });
  const creds = grpc.credentials.createSsl(Buffer.from(rootPem));
  const own = new TestAdsClient(secure, node('reviews-1', 'reviews', '127.0.0.61', 'reviews'), { credentials: creds, token: reviewsToken });
  try {
    await own.until(() => own.latest.has(CLUSTER_TYPE), 10_000);
  } finally {
    own.close();
  }
  for (const [what, n, re] of [
    ['another pod', node('ratings-1', 'ratings', '127.0.0.62', 'ratings'), /service account ratings is not reviews/],
    ['another address', node('reviews-1', 'reviews', '127.0.0.99', 'reviews'), /address 127\.0\.0\.99 is not one of 127\.0\.0\.61/],
  ] as const) {
    const c = new TestAdsClient(secure, n, { credentials: creds, token: reviewsToken });
    try {
      await c.until(() => c.status !== undefined, 10_000);
      assert.equal(c.status!.code, grpc.status.PERMISSION_DENIED, what);
      assert.match(c.status!.details, re, what);
    } finally {
      c.close();
    }
  }

  // the pod is gone: its token no longer proves anything
  const ratingsToken = await tokenFor('ratings', 'ratings-1');
  await must(api, 'DELETE', '/api/v1/namespaces/tokens/pods/ratings-1?gracePeriodSeconds=0');
  await until('ratings-1 deleted', async () => ((await api.request('GET', '/api/v1/namespaces/tokens/pods/ratings-1')).status === 404 ? true : undefined));
  const gone = await createCertificate(secure, rootPem, { csr: csrPem, validityDuration: 0 }, { token: ratingsToken });
  assert.ok('code' in gone && gone.code === grpc.status.UNAUTHENTICATED, JSON.stringify(gone));
});

test('the Lease holder publishes the root certificate to every namespace (ConfigMap istio-ca-root-cert), also to one created later; not to kube-system', { skip }, async () => {
  const root = cp.security.ca.rootCertPem();
  const cm = (ns: string) => api.request('GET', `/api/v1/namespaces/${ns}/configmaps/istio-ca-root-cert`);
  for (const ns of ['default', 'istio-system']) {
    const r = await until(`root ConfigMap in ${ns}`, async () => ((await cm(ns)).status === 200 ? cm(ns) : undefined));
    assert.equal(r.body.data['root-cert.pem'], root, ns);
  }
  await must(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'later' } });
  const later = await until('root ConfigMap in a new namespace', async () => ((await cm('later')).status === 200 ? cm('later') : undefined));
  assert.equal(later.body.data['root-cert.pem'], root);
  assert.equal((await cm('kube-system')).status, 404);
});

test('holdApplicationUntilProxyStarts from the control plane\'s mesh config: a regular sidecar comes back first with a postStart wait, unless the pod says false', { skip }, async () => {
  await until('both webhook configurations patched', async () => (webhooks.patcher.patched >= 2 ? true : undefined));
  await must(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'held', labels: { 'istio-injection': 'enabled' } } });
  // no controller manager creates the namespace's default ServiceAccount here
  await must(api, 'POST', '/api/v1/namespaces/held/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  const create = async (name: string, annotations: Record<string, string>) => {
    await api.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'held', annotations: { 'sidecar.istio.io/nativeSidecar': 'false', ...annotations } },
      spec: { containers: [{ name: 'app', image: 'app', ports: [{ containerPort: 8080 }] }] },
    }));
    return must(api, 'GET', `/api/v1/namespaces/held/pods/${name}`);
  };
  const held = await create('held', {});
  assert.deepEqual(held.spec.containers.map((c: any) => c.name), ['istio-proxy', 'app'], 'the mesh default holds the app');
  assert.match(held.spec.containers[0].lifecycle.postStart.exec.command.join(' '), /15021\/healthz\/ready/);
  const free = await create('free', { 'proxy.istio.io/config': 'holdApplicationUntilProxyStarts: false' });
  assert.deepEqual(free.spec.containers.map((c: any) => c.name), ['app', 'istio-proxy'], 'the annotation overrides the mesh default');
  assert.equal(free.spec.containers[1].lifecycle, undefined);
});
