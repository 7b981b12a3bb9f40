/**
 * The mesh the hostile-input suite attacks: `clew control-plane`, a `web` workload (an app in this
 * process behind its `clew proxy` sidecar, local mode) and an ingress gateway (`clew proxy --type
 * router`), all real processes configured by the real control plane. Three targets take raw
 * bytes: the gateway's port 80 (remapped), the sidecar's outbound port (15001, routed by Host) and
 * the sidecar's inbound listener (web's own address, port 9080). The app records what reaches it.
 */
import { after } from 'node:test';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import { planPod } from '../../../src/local/local-pod.js';
import { freePorts } from '../../../src/local/local-ports.js';
import { planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from '../../e2e/mesh-stack.js';

export const CONFIG = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-gw, namespace: default}
spec:
  hosts: ['*']
  gateways: [gw]
  http:
  - match:
    - uri: {regex: '^/api/(a+)+$'}
    route:
    - destination: {host: web, port: {number: 9080}}
    headers: {response: {set: {x-route: regex}}}
  - route:
    - destination: {host: web, port: {number: 9080}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match:
    - uri: {regex: '^/api/(a+)+$'}
    route:
    - destination: {host: web, port: {number: 9080}}
    headers: {response: {set: {x-route: regex}}}
  - route:
    - destination: {host: web, port: {number: 9080}}
`;

/** cleanups registered at module level: after() called inside a before() hook would run when that hook ends */
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

export type TargetName = 'gateway' | 'outbound' | 'inbound';

export interface Target {
  name: TargetName;
  host: string;
  port: number;
  /** the Host every request to it carries (routes to web) */
  authority: string;
  /** the proxy process behind it */
  proxy: Sidecar;
}

export interface AppRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HostileStack {
  cp: ControlPlaneProc;
  web: Sidecar;
  gateway: Sidecar;
  targets: Target[];
  /** every request the app received, in order */
  seen: AppRequest[];
}

/** Starts the mesh (once per test file); everything is stopped by mesh-stack's after(). */
export async function startHostileStack(extraConfig = ''): Promise<HostileStack> {
  const stateDir = tempDir('clew-hostile-state-');
  const configDir = tempDir('clew-hostile-config-');
  writeFileSync(join(configDir, 'hostile.yaml'), CONFIG + extraConfig);
  const cp = await startControlPlane(configDir);
  const seen: AppRequest[] = [];
  const app = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('latin1');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const text = `app:${req.method} ${req.url} ${body.length}`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }).end(text);
    });
    req.on('error', () => undefined);
  });
  app.on('clientError', (_e, s) => s.destroy());
  cleanups.push(() => new Promise<void>((r) => { app.closeAllConnections(); app.close(() => r()); }));
  const webPlan = await planSidecar({ name: 'web', labels: { app: 'web' }, ports: [9080], xdsAddress: cp.xdsAddress, stateDir });
  const appPort = await new Promise<number>((r) => app.listen(0, webPlan.address, () => r((app.address() as net.AddressInfo).port)));
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
  cleanups.push(() => gwPlan.network.release());
  const [web, gateway] = await Promise.all([startSidecar(webPlan, { 9080: appPort }), startSidecar(gwPlan)]);
  const targets: Target[] = [
    { name: 'gateway', host: gwPlan.address, port: gwPort, authority: 'web.example.com', proxy: gateway },
    { name: 'outbound', host: web.outbound.host, port: web.outbound.port, authority: 'web:9080', proxy: web },
    { name: 'inbound', host: web.address, port: 9080, authority: 'web:9080', proxy: web },
  ];
  for (const t of targets) {
    let last = '';
    await waitFor(async () => {
      const r = await normalRequest(t).catch((e: Error) => ({ status: 0, body: e.message }));
      last = `${r.status} ${r.body}`;
      return r.status === 200;
    }, 30_000, () => `${t.name} to route to web; last: ${last}; proxy: ${t.proxy.output().slice(-2000)}`);
  }
  return { cp, web, gateway, targets, seen };
}

/** A well-formed keep-alive-less GET through a target; resolves with status and body. */
export function normalRequest(t: Target, path = '/normal', timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: t.host, port: t.port, path, headers: { host: t.authority }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface RawResult {
  /** everything the proxy sent back (latin1) */
  text: string;
  /** the proxy ended or reset the connection before the deadline */
  closed: boolean;
  /** it was a reset (ECONNRESET) */
  reset: boolean;
  /** ms from the last write to the close (or the deadline) */
  ms: number;
}

/**
 * Writes raw bytes (parts with a pause between them) and reads until the proxy closes the
 * connection or `deadlineMs` passes (then closed is false).
 */
export function rawExchange(t: Target, parts: string | Buffer | Array<string | Buffer>, deadlineMs = 3000, gapMs = 30): Promise<RawResult> {
  const list = Array.isArray(parts) ? parts : [parts];
  return new Promise((resolve) => {
    const s = net.connect(t.port, t.host);
    let text = '';
    let reset = false;
    let lastWrite = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text, closed, reset, ms: Date.now() - lastWrite });
    };
    s.on('data', (d: Buffer) => (text += d.toString('latin1')));
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
      finish(true);
    });
    s.on('close', () => finish(true));
    s.on('end', () => finish(true));
    let i = 0;
    const next = (): void => {
      if (done) return;
      if (i < list.length) {
        s.write(list[i++]);
        lastWrite = Date.now();
      }
      if (i < list.length) setTimeout(next, gapMs);
      else timer = setTimeout(() => finish(false), deadlineMs);
    };
    s.once('connect', next);
  });
}

/** the status code of the first response in a raw answer (0: none) */
export function firstStatus(text: string): number {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  return m ? Number(m[1]) : 0;
}
