/**
 * Istio's reachability matrix (tests/integration/security/reachability_test.go) on a real mesh
 * configured by Clew's real control plane: a client with a sidecar (`client`), a server with a
 * sidecar (`b`), a server without one (`naked`, a WorkloadEntry), and a client without one (this
 * process calling b's pod address directly). Each case applies PeerAuthentication and
 * DestinationRule resources (global in the root namespace, workload-scoped, port-level, the
 * migration case) and checks who reaches whom, and with mTLS or not. mTLS is proven as Istio's
 * test proves it: the server app sees `X-Forwarded-Client-Cert` carrying the caller's SPIFFE URI
 * (plaintext: no such header). HTTP/1.1, HTTP/2 (h2c), gRPC and TCP are checked under the default
 * (auto mTLS, PERMISSIVE) and under STRICT.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ProxyAgent, request } from 'undici';
import { ECHO_PROTO } from '../helpers/echo-grpc.js';
import {
  applyConfig, connectTunnel, curl, deleteConfig, planSidecar, startControlPlane, startSidecar, tempDir, waitFor,
  type ControlPlaneProc, type Sidecar,
} from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '92';

const PORTS = { web: 8080, alt: 8090, h2c: 8081, grpc: 7070, tcp: 9000 };
const CLIENT_URI = 'URI=spiffe://cluster.local/ns/default/sa/client';
const B_BY = 'By=spiffe://cluster.local/ns/default/sa/b';

let cp: ControlPlaneProc;
let client: Sidecar;
let b: Sidecar;
let nakedAddress: string;
const closers: Array<() => unknown> = [];
let Echo: any;

function platform(nakedPort: number): string {
  return `apiVersion: v1
kind: Service
metadata: {name: b, namespace: default}
spec:
  selector: {app: b}
  ports:
  - {name: http-web, port: ${PORTS.web}, targetPort: ${PORTS.web}}
  - {name: http-alt, port: ${PORTS.alt}, targetPort: ${PORTS.alt}}
  - {name: http2-h2c, port: ${PORTS.h2c}, targetPort: ${PORTS.h2c}}
  - {name: grpc-echo, port: ${PORTS.grpc}, targetPort: ${PORTS.grpc}}
  - {name: tcp-echo, port: ${PORTS.tcp}, targetPort: ${PORTS.tcp}}
---
apiVersion: v1
kind: Service
metadata: {name: naked, namespace: default}
spec:
  selector: {app: naked}
  ports:
  - {name: http-web, port: ${PORTS.web}, targetPort: ${PORTS.web}}
---
apiVersion: v1
kind: Service
metadata: {name: mig, namespace: default}
spec:
  selector: {svc: mig}
  ports:
  - {name: http-web, port: ${PORTS.web}, targetPort: ${PORTS.web}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: naked, namespace: default}
spec:
  address: ${nakedAddress}
  labels: {app: naked, svc: mig, track: vlegacy}
  ports: {http-web: ${nakedPort}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mig, namespace: default}
spec:
  hosts: [mig]
  http:
  - match: [{headers: {x-track: {exact: vistio}}}]
    route: [{destination: {host: mig, subset: vistio}}]
  - route: [{destination: {host: mig, subset: vlegacy}}]
`;
}

function listen(srv: net.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve((srv.address() as net.AddressInfo).port));
  });
}

/** An HTTP app that answers with its name and the headers it got. */
function webApp(name: string): http.Server {
  return http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, headers: req.headers })));
  });
}

before(async () => {
  const stateDir = tempDir('clew-e2e-reach-state-');
  const configDir = tempDir('clew-e2e-reach-config-');
  cp = await startControlPlane(configDir);
  const bPlan = await planSidecar({
    name: 'b', labels: { app: 'b', version: 'v1', svc: 'mig', track: 'vistio' }, ports: Object.values(PORTS), xdsAddress: cp.xdsAddress, stateDir,
  });
  const nakedPlan = await planSidecar({ name: 'naked', xdsAddress: cp.xdsAddress, stateDir });
  nakedAddress = nakedPlan.address;
  const clientPlan = await planSidecar({ name: 'client', labels: { app: 'client' }, xdsAddress: cp.xdsAddress, stateDir });

  // b's apps on its pod address (the sidecar serves the workload ports there)
  const host = bPlan.address;
  const web = webApp('b');
  const alt = webApp('b-alt');
  const h2c = http2.createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'b-h2', headers: req.headers })));
  const tcp = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(`tcp:${d.toString()}`));
  });
  const pkg = (grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO, { keepCase: true })) as any).clew.test;
  Echo = pkg.Echo;
  const grpcServer = new grpc.Server();
  grpcServer.addService(pkg.Echo.service, {
    // the reply carries the X-Forwarded-Client-Cert the server sidecar set (empty: plaintext)
    Say: (call: any, cb: any) => cb(null, { message: String(call.metadata.get('x-forwarded-client-cert')[0] ?? ''), server: 'b-grpc' }),
    Stream: (call: any) => call.end(),
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))));
  const nakedApp = webApp('naked');
  const appPorts = {
    [PORTS.web]: await listen(web, host),
    [PORTS.alt]: await listen(alt, host),
    [PORTS.h2c]: await listen(h2c, host),
    [PORTS.grpc]: grpcPort,
    [PORTS.tcp]: await listen(tcp, host),
  };
  const nakedPort = await listen(nakedApp, nakedAddress);
  closers.push(() => web.close(), () => alt.close(), () => h2c.close(), () => tcp.close(), () => nakedApp.close(), () => grpcServer.forceShutdown());
  writeFileSync(join(configDir, 'platform.yaml'), platform(nakedPort));
  [b, client] = await Promise.all([startSidecar(bPlan, appPorts), startSidecar(clientPlan)]);
  await waitFor(async () => (await viaClient('b')).status === 200 && (await viaClient('naked')).status === 200, 30_000,
    'b and naked to answer through the client sidecar');
}, { timeout: 90_000 });

after(() => {
  for (const c of closers) c();
});

interface Seen {
  status: number;
  /** the caller's SPIFFE URI reached the app in X-Forwarded-Client-Cert */
  mtls: boolean;
  detail: string;
}

function seenOf(status: number, body: string): Seen {
  let xfcc = '';
  try {
    xfcc = String(JSON.parse(body).headers['x-forwarded-client-cert'] ?? '');
  } catch {
    // not the app's JSON (a proxy's error body)
  }
  return { status, mtls: xfcc.includes(CLIENT_URI) && xfcc.includes(B_BY), detail: `${status} ${xfcc || body.slice(0, 200)}` };
}

/** HTTP/1.1 from the client app through its sidecar (absolute-form, as HTTP_PROXY sends it). */
async function viaClient(service: string, port = PORTS.web, headers: Record<string, string> = {}): Promise<Seen> {
  const dispatcher = new ProxyAgent({ uri: client.outboundUrl, proxyTunnel: false });
  try {
    const res = await request(`http://${service}:${port}/reach`, { dispatcher, headers, headersTimeout: 5000, bodyTimeout: 5000 });
    return seenOf(res.statusCode, await res.body.text());
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  } finally {
    await dispatcher.close();
  }
}

/** HTTP/1.1 from a client without a sidecar, straight to b's pod address. */
async function fromNaked(port = PORTS.web): Promise<Seen> {
  try {
    const res = await request(`http://${b.address}:${port}/direct`, { headersTimeout: 5000, bodyTimeout: 5000, reset: true });
    return seenOf(res.statusCode, await res.body.text());
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  }
}

type Expect = Record<string, { ok: boolean; mtls?: boolean }>;
type Observe = Record<string, () => Promise<Seen>>;

const BASE: Observe = {
  'client -> b': () => viaClient('b'),
  'client -> naked': () => viaClient('naked'),
  'naked -> b': () => fromNaked(),
};

/** Polls until every pair behaves as expected (config reaches the proxies within a second or so). */
async function expectMatrix(name: string, want: Expect, observe: Observe = BASE): Promise<void> {
  let last: Record<string, Seen> = {};
  const matches = (): boolean => Object.entries(want).every(([k, w]) => {
    const s = last[k];
    return s !== undefined && (s.status === 200) === w.ok && (w.mtls === undefined || !w.ok || s.mtls === w.mtls);
  });
  try {
    await waitFor(async () => {
      last = {};
      for (const k of Object.keys(want)) last[k] = await observe[k]();
      return matches();
    }, 20_000, name);
  } catch {
    // the final observation, pair by pair, in the message
  }
  for (const [k, w] of Object.entries(want)) {
    const s = last[k];
    assert.equal(s.status === 200, w.ok, `${name}: ${k} should ${w.ok ? '' : 'not '}succeed; saw ${s.detail}`);
    if (w.ok && w.mtls !== undefined) assert.equal(s.mtls, w.mtls, `${name}: ${k} should ${w.mtls ? '' : 'not '}be mTLS; saw ${s.detail}`);
  }
}

const pa = (name: string, ns: string, spec: string): string =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n`;
const dr = (host: string, mode: string): string =>
  `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${host}, namespace: default}\nspec: {host: ${host}, trafficPolicy: {tls: {mode: ${mode}}}}\n`;
const both = (mode: string): string => `${dr('b', mode)}---\n${dr('naked', mode)}`;
const GLOBAL = (mode: string): string => pa('default', 'istio-system', `{mtls: {mode: ${mode}}}`);

/**
 * After a change: past the push debounce (100 ms), then until every proxy has ACKed what it was
 * sent, so that a case never passes on the previous case's config.
 */
async function settled(): Promise<void> {
  await new Promise((r) => setTimeout(r, 600));
  await waitFor(async () => {
    const res = await request(`${cp.debugUrl}/debug/proxy_status`);
    const rows = (await res.body.json()) as Array<Record<string, string>>;
    return rows.length >= 2 && rows.every((r) => ['CDS', 'LDS', 'EDS', 'RDS'].every((t) => r[t] === 'SYNCED' || r[t] === 'NOT SENT'));
  }, 10_000, 'every proxy to ACK the change');
}

/** Applies a case's resources, runs the body, deletes them again (also on failure). */
async function withConfig(yaml: string, fn: () => Promise<void>): Promise<void> {
  await applyConfig(cp, yaml);
  try {
    await settled();
    await fn();
  } finally {
    await deleteConfig(cp, yaml);
    await settled();
  }
}

// Istio's table: [case, config, client->b, client->naked, naked->b]
const CASES: Array<[string, string, Expect]> = [
  ['global mtls strict (PA STRICT + DR ISTIO_MUTUAL)', `${GLOBAL('STRICT')}---\n${both('ISTIO_MUTUAL')}`,
    { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: false }, 'naked -> b': { ok: false } }],
  ['global mtls permissive (PA PERMISSIVE + DR ISTIO_MUTUAL)', `${GLOBAL('PERMISSIVE')}---\n${both('ISTIO_MUTUAL')}`,
    { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: false }, 'naked -> b': { ok: true, mtls: false } }],
  ['global mtls disabled (PA DISABLE + DR DISABLE)', `${GLOBAL('DISABLE')}---\n${both('DISABLE')}`,
    { 'client -> b': { ok: true, mtls: false }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: true, mtls: false } }],
  ['global plaintext to mtls permissive (DR DISABLE)', `${GLOBAL('PERMISSIVE')}---\n${both('DISABLE')}`,
    { 'client -> b': { ok: true, mtls: false }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: true, mtls: false } }],
  ['global automtls strict (no DR)', GLOBAL('STRICT'),
    { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: false } }],
  ['global automtls disable (no DR)', GLOBAL('DISABLE'),
    { 'client -> b': { ok: true, mtls: false }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: true, mtls: false } }],
  ['global no peer authn (DR ISTIO_MUTUAL only)', both('ISTIO_MUTUAL'),
    { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: false }, 'naked -> b': { ok: true, mtls: false } }],
  ['workload mtls strict (selector app=b)', pa('b-strict', 'default', '{selector: {matchLabels: {app: b}}, mtls: {mode: STRICT}}'),
    { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: false } }],
  ['workload mtls permissive (over a global STRICT)', `${GLOBAL('STRICT')}---\n${pa('b-permissive', 'default', '{selector: {matchLabels: {app: b}}, mtls: {mode: PERMISSIVE}}')}`,
    { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: true, mtls: false } }],
  ['workload mtls disabled (over a global STRICT)', `${GLOBAL('STRICT')}---\n${pa('b-disable', 'default', '{selector: {matchLabels: {app: b}}, mtls: {mode: DISABLE}}')}`,
    { 'client -> b': { ok: true, mtls: false }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: true, mtls: false } }],
];

test('default (no PeerAuthentication, no DestinationRule): auto mTLS to sidecars, plaintext to the rest, PERMISSIVE inbound', async () => {
  await expectMatrix('default', { 'client -> b': { ok: true, mtls: true }, 'client -> naked': { ok: true, mtls: false }, 'naked -> b': { ok: true, mtls: false } });
});

for (const [name, yaml, want] of CASES) {
  test(`reachability: ${name}`, async () => {
    await withConfig(yaml, () => expectMatrix(name, want));
  });
}

test('reachability: port override (workload STRICT, portLevelMtls 8090 DISABLE, no DR)', async () => {
  const yaml = pa('b-ports', 'default', `{selector: {matchLabels: {app: b}}, mtls: {mode: STRICT}, portLevelMtls: {${PORTS.alt}: {mode: DISABLE}}}`);
  await withConfig(yaml, () => expectMatrix('port override', {
    'client -> b:8080': { ok: true, mtls: true },
    'naked -> b:8080': { ok: false },
    'client -> b:8090': { ok: true, mtls: false },
    'naked -> b:8090': { ok: true, mtls: false },
  }, {
    'client -> b:8080': () => viaClient('b'),
    'naked -> b:8080': () => fromNaked(),
    'client -> b:8090': () => viaClient('b', PORTS.alt),
    'naked -> b:8090': () => fromNaked(PORTS.alt),
  }));
});

test('reachability: migration (mesh STRICT; service mig = vistio with a sidecar + vlegacy without; DR none / DISABLE / ISTIO_MUTUAL)', async () => {
  const subsets = '[{name: vistio, labels: {track: vistio}}, {name: vlegacy, labels: {track: vlegacy}}]';
  const migDr = (mode?: string): string =>
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: mig, namespace: default}\nspec: {host: mig, ${mode ? `trafficPolicy: {tls: {mode: ${mode}}}, ` : ''}subsets: ${subsets}}\n`;
  const observe: Observe = {
    vistio: () => viaClient('mig', PORTS.web, { 'x-track': 'vistio' }),
    vlegacy: () => viaClient('mig', PORTS.web, { 'x-track': 'vlegacy' }),
  };
  // Istio: success always / vlegacy only / vistio only; mTLS vistio only / never / vistio only
  const rows: Array<[string | undefined, Expect]> = [
    [undefined, { vistio: { ok: true, mtls: true }, vlegacy: { ok: true, mtls: false } }],
    ['DISABLE', { vistio: { ok: false }, vlegacy: { ok: true, mtls: false } }],
    ['ISTIO_MUTUAL', { vistio: { ok: true, mtls: true }, vlegacy: { ok: false } }],
  ];
  await withConfig(GLOBAL('STRICT'), async () => {
    for (const [mode, want] of rows) {
      await withConfig(migDr(mode), () => expectMatrix(`migration, DR ${mode ?? 'none'}`, want, observe));
    }
  });
});

/** HTTP/2 (h2c, prior knowledge) through the client sidecar's CONNECT tunnel; the app's view. */
async function h2ViaClient(): Promise<Seen> {
  try {
    const out = await curl(['--http2-prior-knowledge', '-p', '-x', client.outboundUrl, '-w', '\n%{http_code}', `http://b:${PORTS.h2c}/h2`], 5);
    const i = out.lastIndexOf('\n');
    return seenOf(Number(out.slice(i + 1)), out.slice(0, i));
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  }
}

async function h2FromNaked(): Promise<Seen> {
  try {
    const out = await curl(['--http2-prior-knowledge', '-w', '\n%{http_code}', `http://${b.address}:${PORTS.h2c}/h2`], 5);
    const i = out.lastIndexOf('\n');
    return seenOf(Number(out.slice(i + 1)), out.slice(0, i));
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  }
}

/** A unary gRPC call: through the client sidecar (http_proxy, as `clew run` sets it) or straight to b. */
async function grpcSay(viaSidecar: boolean): Promise<Seen> {
  const saved = process.env.http_proxy;
  if (viaSidecar) process.env.http_proxy = client.outboundUrl;
  else delete process.env.http_proxy;
  let c: any;
  try {
    c = new Echo(viaSidecar ? `b:${PORTS.grpc}` : `${b.address}:${PORTS.grpc}`, grpc.credentials.createInsecure());
  } finally {
    if (saved === undefined) delete process.env.http_proxy;
    else process.env.http_proxy = saved;
  }
  try {
    const reply = await new Promise<any>((resolve, reject) =>
      c.Say({ message: 'hi' }, { deadline: Date.now() + 4000 }, (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r))));
    const xfcc = String(reply.message);
    return { status: 200, mtls: xfcc.includes(CLIENT_URI), detail: `gRPC OK ${xfcc}` };
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  } finally {
    c.close();
  }
}

/** TCP echo; mTLS is the client sidecar's upstream TLS handshake counter for b's tcp cluster. */
async function tcpViaClient(): Promise<Seen> {
  const stat = `cluster.outbound|${PORTS.tcp}||b.default.svc.cluster.local.ssl.handshake`;
  const before = await client.stat(stat);
  try {
    const s = await connectTunnel(client.outbound, `b:${PORTS.tcp}`);
    const reply = await echoOnce(s);
    const handshakes = (await client.stat(stat)) - before;
    return { status: reply === 'tcp:ping' ? 200 : 0, mtls: handshakes > 0, detail: `${reply}; ${handshakes} upstream TLS handshakes` };
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  }
}

async function tcpFromNaked(): Promise<Seen> {
  try {
    const s = net.connect(PORTS.tcp, b.address);
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    const reply = await echoOnce(s);
    return { status: reply === 'tcp:ping' ? 200 : 0, mtls: false, detail: reply };
  } catch (err) {
    return { status: 0, mtls: false, detail: (err as Error).message };
  }
}

function echoOnce(s: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    const t = setTimeout(() => done('(no reply in 3 s)'), 3000);
    const done = (v: string): void => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    s.on('error', (e) => done(`(${e.message})`));
    s.once('data', (d: Buffer) => done(d.toString()));
    s.once('close', () => done('(closed)'));
    s.write('ping');
  });
}

const PROTOCOLS: Observe = {
  'HTTP/2 client -> b': h2ViaClient,
  'HTTP/2 naked -> b': h2FromNaked,
  'gRPC client -> b': () => grpcSay(true),
  'gRPC naked -> b': () => grpcSay(false),
  'TCP client -> b': tcpViaClient,
  'TCP naked -> b': tcpFromNaked,
};

test('protocols under auto mTLS (PERMISSIVE): HTTP/2, gRPC and TCP are mTLS from a sidecar, plaintext from a client without one', async () => {
  await expectMatrix('protocols, PERMISSIVE', {
    'HTTP/2 client -> b': { ok: true, mtls: true },
    'HTTP/2 naked -> b': { ok: true, mtls: false },
    'gRPC client -> b': { ok: true, mtls: true },
    'gRPC naked -> b': { ok: true, mtls: false },
    'TCP client -> b': { ok: true, mtls: true },
    'TCP naked -> b': { ok: true, mtls: false },
  }, PROTOCOLS);
});

test('protocols under global STRICT: HTTP/2, gRPC and TCP from a sidecar are mTLS, from a client without one refused', async () => {
  await withConfig(GLOBAL('STRICT'), () => expectMatrix('protocols, STRICT', {
    'HTTP/2 client -> b': { ok: true, mtls: true },
    'HTTP/2 naked -> b': { ok: false },
    'gRPC client -> b': { ok: true, mtls: true },
    'gRPC naked -> b': { ok: false },
    'TCP client -> b': { ok: true, mtls: true },
    'TCP naked -> b': { ok: false },
  }, PROTOCOLS));
});
