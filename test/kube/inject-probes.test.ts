/**
 * Probe rewriting (Istio's sidecar.istio.io/rewriteAppHTTPProbers) end to end without a kubelet:
 * `clew kube-inject` rewrites the app's httpGet/tcpSocket/grpc probes to the sidecar's status port
 * (`/app-health/<container>/livez|readyz|startupz` on 15020) and hands the originals to the
 * sidecar in ISTIO_KUBE_APP_PROBERS; a real `clew proxy` started with that environment answers
 * those paths by running the original probes against real HTTP, TCP and gRPC (grpc.health.v1)
 * servers: 200 while they pass, 500 once they fail, 404 for paths it was not given.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parseAllDocuments } from 'yaml';
import { request } from 'undici';
import { CLEW_BIN } from '../helpers/paths.js';
import { freePorts } from '../../src/local/local-ports.js';
import { spawnClew, stopProcess } from '../e2e/mesh-stack.js';
import { parseAppProbers } from '../../src/proxy/admin/app-probes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-inject-probes-'));
const closers: Array<() => unknown> = [];
after(async () => {
  for (const c of closers.reverse()) await c();
  fs.rmSync(dir, { recursive: true, force: true });
});

function kubeInject(manifest: string): any[] {
  const file = path.join(dir, `m-${Math.random().toString(16).slice(2)}.yaml`);
  fs.writeFileSync(file, manifest);
  const r = spawnSync(process.execPath, [CLEW_BIN, 'kube-inject', '-f', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS());
}

const manifest = (p: { http: number; tcp: number; grpc: number }, annotations = '{}') => `apiVersion: v1
kind: Pod
metadata: {name: web, annotations: ${annotations}}
spec:
  containers:
    - name: web
      image: web
      ports: [{name: http-api, containerPort: ${p.http}}, {containerPort: ${p.tcp}}]
      livenessProbe: {httpGet: {path: /healthz, port: http-api, httpHeaders: [{name: x-probe, value: live}]}, periodSeconds: 7, timeoutSeconds: 2}
      readinessProbe: {tcpSocket: {port: ${p.tcp}}, initialDelaySeconds: 3}
      startupProbe: {grpc: {port: ${p.grpc}, service: web}, failureThreshold: 30}
    - name: helper
      image: helper
      livenessProbe: {exec: {command: [cat, /tmp/ok]}}
`;

test('kube-inject rewrites httpGet, tcpSocket and grpc probes to the status port; exec probes and opted-out pods are untouched', () => {
  const ports = { http: 8080, tcp: 9000, grpc: 7070 };
  const [pod] = kubeInject(manifest(ports));
  const [web, helper] = pod.spec.containers;
  assert.deepEqual(web.livenessProbe, { httpGet: { path: '/app-health/web/livez', port: 15020, scheme: 'HTTP' }, periodSeconds: 7, timeoutSeconds: 2 });
  assert.deepEqual(web.readinessProbe, { httpGet: { path: '/app-health/web/readyz', port: 15020, scheme: 'HTTP' }, initialDelaySeconds: 3 });
  assert.deepEqual(web.startupProbe, { httpGet: { path: '/app-health/web/startupz', port: 15020, scheme: 'HTTP' }, failureThreshold: 30 });
  assert.deepEqual(helper.livenessProbe, { exec: { command: ['cat', '/tmp/ok'] } });
  const proxy = pod.spec.initContainers.find((c: any) => c.name === 'istio-proxy');
  const env = proxy.env.find((e: any) => e.name === 'ISTIO_KUBE_APP_PROBERS');
  assert.deepEqual(JSON.parse(env.value), {
    '/app-health/web/livez': { timeoutSeconds: 2, httpGet: { path: '/healthz', port: 8080, httpHeaders: [{ name: 'x-probe', value: 'live' }] } },
    '/app-health/web/readyz': { tcpSocket: { port: 9000 } },
    '/app-health/web/startupz': { grpc: { port: 7070, service: 'web' } },
  }, 'the named port resolved, the rest as written');
  assert.equal(parseAppProbers(env.value).size, 3, 'the sidecar accepts what the injector writes');

  const [off] = kubeInject(manifest(ports, '{sidecar.istio.io/rewriteAppHTTPProbers: "false"}'));
  assert.deepEqual(off.spec.containers[0].livenessProbe.httpGet, { path: '/healthz', port: 'http-api', httpHeaders: [{ name: 'x-probe', value: 'live' }] });
  assert.equal(off.spec.initContainers.find((c: any) => c.name === 'istio-proxy').env.some((e: any) => e.name === 'ISTIO_KUBE_APP_PROBERS'), false);

  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, manifest(ports).replace('port: http-api', 'port: nope'));
  const bad = spawnSync(process.execPath, [CLEW_BIN, 'kube-inject', '-f', file], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad\.yaml.*web.*spec\.containers\[0\]\.livenessProbe\.httpGet\.port: no container port named "nope"/s);
});

/** grpc.health.v1.Health/Check by hand (HealthCheckRequest {service = 1}; response {status = 1}) */
function healthServer(status: () => number): grpc.Server {
  const server = new grpc.Server();
  server.addService({
    Check: {
      path: '/grpc.health.v1.Health/Check', requestStream: false, responseStream: false,
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
      responseSerialize: (n: number) => Buffer.from([0x08, n]), responseDeserialize: (b: Buffer) => b[1],
    },
  } as grpc.ServiceDefinition, {
    Check: (call: grpc.ServerUnaryCall<Buffer, number>, cb: grpc.sendUnaryData<number>) => {
      const req = call.request;
      const service = req.length > 2 && req[0] === 0x0a ? req.subarray(2, 2 + req[1]).toString() : '';
      cb(null, service === 'web' ? status() : 3);
    },
  });
  return server;
}

test('clew proxy with ISTIO_KUBE_APP_PROBERS answers /app-health/... by probing the app over HTTP, TCP and gRPC', { timeout: 60_000 }, async () => {
  const [httpPort, tcpPort, grpcPort, statusPort, admin, stats, ready, xds] = await freePorts('127.0.0.1', 8);
  let healthy = true;
  const seen: string[] = [];
  const app = http.createServer((req, res) => {
    seen.push(`${req.url} ${req.headers['x-probe']}`);
    res.writeHead(healthy ? 200 : 503).end();
  });
  await new Promise<void>((r) => app.listen(httpPort, '127.0.0.1', r));
  closers.push(() => new Promise((r) => app.close(r)));
  const tcp = net.createServer((s) => s.end());
  await new Promise<void>((r) => tcp.listen(tcpPort, '127.0.0.1', r));
  let serving = 1;
  const g = healthServer(() => serving);
  await new Promise<void>((res, rej) => g.bindAsync(`127.0.0.1:${grpcPort}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  closers.push(() => g.forceShutdown());

  const [pod] = kubeInject(manifest({ http: httpPort, tcp: tcpPort, grpc: grpcPort }));
  const probers = pod.spec.initContainers.find((c: any) => c.name === 'istio-proxy').env.find((e: any) => e.name === 'ISTIO_KUBE_APP_PROBERS').value;
  // no control plane: the status port does not depend on configuration
  const proxy = spawnClew(['proxy', '--xds-address', `127.0.0.1:${xds}`, '--id', 'web.default', '--address', '127.0.0.1',
    '--admin-port', String(admin), '--stats-port', String(stats), '--ready-port', String(ready), '--status-port', String(statusPort)], { ISTIO_KUBE_APP_PROBERS: probers });
  closers.push(() => stopProcess(proxy.proc));
  const get = async (p: string) => {
    const r = await request(`http://127.0.0.1:${statusPort}${p}`);
    await r.body.text();
    return r.statusCode;
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await get('/');
      break;
    } catch (err) {
      if (proxy.proc.exitCode !== null || Date.now() > deadline) throw new Error(`status port: ${(err as Error).message}\n${proxy.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.equal(await get('/app-health/web/livez'), 200);
  assert.deepEqual(seen, ['/healthz live'], 'the original path and headers');
  assert.equal(await get('/app-health/web/readyz'), 200);
  assert.equal(await get('/app-health/web/startupz'), 200);
  assert.equal(await get('/app-health/helper/livez'), 404, 'an exec probe is not the sidecar\'s');
  assert.equal(await get('/app-health/other/readyz'), 404);

  healthy = false;
  serving = 2; // NOT_SERVING
  await new Promise<void>((r) => tcp.close(() => r()));
  assert.equal(await get('/app-health/web/livez'), 500);
  assert.equal(await get('/app-health/web/readyz'), 500);
  assert.equal(await get('/app-health/web/startupz'), 500);

  // a malformed variable stops the proxy with the reason
  const bad = spawnSync(process.execPath, [CLEW_BIN, 'proxy', '--xds-address', `127.0.0.1:${xds}`, '--id', 'x.default'], { encoding: 'utf8', env: { ...process.env, ISTIO_KUBE_APP_PROBERS: '{"/app-health/x/livez": {"httpGet": {"port": 0}}}' }, timeout: 20_000 });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /ISTIO_KUBE_APP_PROBERS: \/app-health\/x\/livez\.httpGet\.port: expected a port number, got 0/);
});
