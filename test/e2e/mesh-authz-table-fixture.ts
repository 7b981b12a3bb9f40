/**
 * AuthorizationPolicy as a table, through real sidecars with mTLS: every `from.source`,
 * `to.operation` and `when` field (with its `not*` twin), the actions ALLOW, DENY and AUDIT, the
 * dry-run annotation, on HTTP, gRPC (@grpc/grpc-js) and TCP, including Istio's TCP rule (an ALLOW
 * rule with HTTP-only fields is dropped, a DENY rule loses them and denies more).
 *
 * One mesh per test file: a control plane, the server `web` (HTTP 8080, gRPC 7070, TCP
 * 9000, each behind its sidecar) and two clients with their own sidecars: A = `sleep` in `default`,
 * B = `intruder` in namespace `other` (other principal, namespace, address, JWT and x-user). Each
 * row applies one policy `row-<n>` through the control plane's API (replacing the previous row's),
 * waits until the server sidecar's /config_dump holds it, then sends its probes: which client, which
 * protocol and request, and the outcome expected (allow, or deny = HTTP 403 `RBAC: access denied`,
 * gRPC PERMISSION_DENIED, TCP closed without a reply). A probe is repeated until it gives the
 * expected outcome (a connection opened under the previous config drains) and then once more.
 *
 * Used by mesh-authz-table-fields.test.ts (part 1: source and operation fields) and
 * mesh-authz-table-conditions.test.ts (part 2: when keys, actions, the TCP rule, dry run), each on
 * its own mesh so that each file stays short under load.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ProxyAgent, request } from 'undici';
import { startEchoServer, echoDefinition, type EchoServer } from '../helpers/echo-grpc.js';
import { applyConfig, connectTunnel, deleteConfig, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

const HTTP = 8080;
const GRPC = 7070;
const TCP = 9000;
const FQDN = 'web.default.svc.cluster.local';
const ISS = 'https://table.example';
const P_A = 'cluster.local/ns/default/sa/sleep';
const P_B = 'cluster.local/ns/other/sa/intruder';

type Outcome = 'allow' | 'deny';
type Who = 'A' | 'B';
export interface Probe {
  who: Who;
  proto: 'http' | 'grpc' | 'tcp';
  /** HTTP: method (GET), path (/api/items), `short` = authority `web:8080` (A only) instead of the FQDN */
  method?: string;
  path?: string;
  short?: boolean;
  /** gRPC: Say (unary, default) or Stream */
  rpc?: 'Say' | 'Stream';
  expect: Outcome;
  /** dry run: the outcome the shadow rules record (`shadow_allowed` / `shadow_denied`) */
  shadow?: Outcome;
}

interface Client {
  sidecar: Sidecar;
  agent: ProxyAgent;
  user: string;
  token: string;
}

export let cp: ControlPlaneProc;
let server: Sidecar;
const clients = {} as Record<Who, Client>;
let grpcServer: EchoServer;
const servers: net.Server[] = [];
const Echo = echoDefinition().Echo;

function listen(srv: net.Server, host: string): Promise<number> {
  return new Promise((resolve) => srv.listen(0, host, () => resolve((srv.address() as net.AddressInfo).port)));
}

// ---------------------------------------------------------------- one probe
async function httpProbe(c: Client, p: Probe): Promise<Outcome> {
  const host = p.short ? `web:${HTTP}` : `${FQDN}:${HTTP}`;
  const method = p.method ?? 'GET';
  const res = await request(`http://${host}${p.path ?? '/api/items'}`, {
    method: method as 'GET',
    dispatcher: c.agent,
    headers: { 'x-user': c.user, authorization: `Bearer ${c.token}` },
    body: method === 'POST' ? 'x' : undefined,
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  const body = await res.body.text();
  if (res.statusCode === 200 && body.startsWith('app saw')) return 'allow';
  if (res.statusCode === 403 && body === 'RBAC: access denied') return 'deny';
  throw new Error(`HTTP ${method} ${host}${p.path ?? '/api/items'}: ${res.statusCode} ${body.slice(0, 200)}`);
}

function grpcProbe(c: Client, p: Probe): Promise<Outcome> {
  // a fresh channel per probe (grpc-js tunnels through http_proxy with CONNECT, as `clew run` sets it)
  const saved = { http_proxy: process.env.http_proxy, grpc_proxy: process.env.grpc_proxy, no_proxy: process.env.no_proxy, NO_PROXY: process.env.NO_PROXY };
  process.env.http_proxy = c.sidecar.outboundUrl;
  for (const k of ['grpc_proxy', 'no_proxy', 'NO_PROXY']) delete process.env[k];
  let client: any;
  try {
    client = new Echo(`${FQDN}:${GRPC}`, grpc.credentials.createInsecure());
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const md = new grpc.Metadata();
  md.set('x-user', c.user);
  md.set('authorization', `Bearer ${c.token}`);
  const deadline = Date.now() + 5000;
  const settle = (err: grpc.ServiceError | null): Outcome => {
    if (!err) return 'allow';
    if (err.code === grpc.status.PERMISSION_DENIED) return 'deny';
    throw new Error(`gRPC ${p.rpc ?? 'Say'}: ${err.code} ${err.message}`);
  };
  return new Promise<Outcome>((resolve, reject) => {
    const done = (err: grpc.ServiceError | null): void => {
      client.close();
      try {
        resolve(settle(err));
      } catch (e) {
        reject(e);
      }
    };
    if (p.rpc === 'Stream') {
      const call = client.Stream({ message: 's', count: 1 }, md, { deadline });
      call.on('data', () => undefined);
      call.on('end', () => done(null));
      call.on('error', (err: grpc.ServiceError) => done(err));
    } else {
      client.Say({ message: 'hi' }, md, { deadline }, (err: grpc.ServiceError | null) => done(err));
    }
  });
}

/** `ping` over a CONNECT tunnel to the TCP port: echoed = allow, closed without a reply = deny. */
async function tcpProbe(c: Client): Promise<Outcome> {
  const s = await connectTunnel(c.sidecar.outbound, `${FQDN}:${TCP}`);
  const got = await new Promise<string>((resolve) => {
    let data = '';
    s.on('data', (d) => {
      data += d.toString();
      if (data.includes('ping')) s.destroy();
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(data));
    s.write('ping');
    setTimeout(() => s.destroy(), 4000).unref();
  });
  if (got === 'tcp:ping') return 'allow';
  if (got === '') return 'deny';
  throw new Error(`TCP: got ${JSON.stringify(got)}`);
}

function probe(p: Probe): Promise<Outcome> {
  const c = clients[p.who];
  return p.proto === 'http' ? httpProbe(c, p) : p.proto === 'grpc' ? grpcProbe(c, p) : tcpProbe(c);
}

const describe = (p: Probe): string => `${p.who} ${p.proto}${p.method ? ` ${p.method}` : ''}${p.path ? ` ${p.path}` : ''}${p.short ? ' (authority web:8080)' : ''}${p.rpc ? ` ${p.rpc}` : ''}`;

/** The server sidecar's shadow counter for a probe's port. */
function shadowStat(p: Probe, prefix: string, result: Outcome): string {
  const scope = p.proto === 'tcp' ? 'tcp.rbac.' : `http.inbound_0.0.0.0_${p.proto === 'grpc' ? GRPC : HTTP}.rbac.`;
  return `${scope}${prefix}shadow_${result === 'allow' ? 'allowed' : 'denied'}`;
}

// ---------------------------------------------------------------- rows
export interface Row {
  name: string;
  action?: 'ALLOW' | 'DENY' | 'AUDIT';
  dryRun?: boolean;
  rules: unknown[];
  probes: Probe[];
}

const A = (proto: Probe['proto'], expect: Outcome, more: Partial<Probe> = {}): Probe => ({ who: 'A', proto, expect, ...more });
const B = (proto: Probe['proto'], expect: Outcome, more: Partial<Probe> = {}): Probe => ({ who: 'B', proto, expect, ...more });
/** A matches the rule, B does not (ALLOW: A allowed, B denied) on the given protocols */
const aOnly = (...protos: Probe['proto'][]): Probe[] => protos.flatMap((p) => [A(p, 'allow'), B(p, 'deny')]);
/** B matches, A does not */
const bOnly = (...protos: Probe['proto'][]): Probe[] => protos.flatMap((p) => [A(p, 'deny'), B(p, 'allow')]);
const from = (source: Record<string, unknown>): unknown[] => [{ from: [{ source }] }];
const to = (operation: Record<string, unknown>): unknown[] => [{ to: [{ operation }] }];
const when = (key: string, values: string[], not = false): unknown[] => [{ when: [{ key, [not ? 'notValues' : 'values']: values }] }];

let addrA = '';
let addrB = '';
let addrServer = '';

/** The table; `part` 1 = source and operation fields, 2 = when keys, actions, TCP rule, dry run. */
export function rows(part: 1 | 2): Row[] {
  const all: Row[] = [
    // from.source, ALLOW: one client matches, the other does not; principals, namespaces and
    // addresses are connection facts, so TCP obeys them too
    { name: 'source.principals', rules: from({ principals: [P_A] }), probes: aOnly('http', 'grpc', 'tcp') },
    { name: 'source.principals (prefix)', rules: from({ principals: ['cluster.local/ns/default/*'] }), probes: aOnly('http') },
    { name: 'source.notPrincipals', rules: from({ notPrincipals: [P_A] }), probes: bOnly('http', 'tcp') },
    { name: 'source.requestPrincipals', rules: from({ requestPrincipals: [`${ISS}/alice`] }), probes: aOnly('http', 'grpc') },
    { name: 'source.notRequestPrincipals', rules: from({ notRequestPrincipals: [`${ISS}/alice`] }), probes: bOnly('http') },
    { name: 'source.namespaces', rules: from({ namespaces: ['default'] }), probes: aOnly('http', 'tcp') },
    { name: 'source.notNamespaces', rules: from({ notNamespaces: ['default'] }), probes: bOnly('http', 'tcp') },
    { name: 'source.serviceAccounts', rules: from({ serviceAccounts: ['sleep'] }), probes: aOnly('http', 'tcp') },
    { name: 'source.notServiceAccounts', rules: from({ notServiceAccounts: ['sleep'] }), probes: bOnly('http') },
    { name: 'source.ipBlocks', rules: from({ ipBlocks: [`${addrA}/32`] }), probes: aOnly('http', 'tcp') },
    { name: 'source.notIpBlocks', rules: from({ notIpBlocks: [`${addrA}/32`] }), probes: bOnly('http', 'tcp') },
    { name: 'source.remoteIpBlocks', rules: from({ remoteIpBlocks: [`${addrA}/32`] }), probes: aOnly('http', 'tcp') },
    { name: 'source.notRemoteIpBlocks', rules: from({ notRemoteIpBlocks: [`${addrA}/32`] }), probes: bOnly('http') },

    // to.operation, ALLOW: the request decides
    { name: 'operation.hosts', rules: to({ hosts: [FQDN] }), probes: [A('http', 'allow'), A('http', 'deny', { short: true })] },
    { name: 'operation.notHosts', rules: to({ notHosts: [FQDN] }), probes: [A('http', 'deny'), A('http', 'allow', { short: true })] },
    { name: 'operation.ports', rules: to({ ports: [String(HTTP)] }), probes: [A('http', 'allow'), A('grpc', 'deny'), A('tcp', 'deny')] },
    { name: 'operation.notPorts', rules: to({ notPorts: [String(HTTP)] }), probes: [A('http', 'deny'), A('grpc', 'allow'), A('tcp', 'allow')] },
    { name: 'operation.methods', rules: to({ methods: ['GET'] }), probes: [A('http', 'allow'), A('http', 'deny', { method: 'POST' }), A('grpc', 'deny')] },
    { name: 'operation.notMethods', rules: to({ notMethods: ['GET'] }), probes: [A('http', 'deny'), A('http', 'allow', { method: 'POST' }), A('grpc', 'allow')] },
    { name: 'operation.paths (prefix)', rules: to({ paths: ['/api/*'] }), probes: [A('http', 'allow'), A('http', 'deny', { path: '/admin/x' })] },
    { name: 'operation.paths ({*} template)', rules: to({ paths: ['/api/{*}'] }), probes: [A('http', 'allow'), A('http', 'deny', { path: '/api/a/b' })] },
    { name: 'operation.notPaths', rules: to({ notPaths: ['/api/*'] }), probes: [A('http', 'deny'), A('http', 'allow', { path: '/admin/x' })] },
    // gRPC: always POST, the path is /package.Service/Method
    { name: 'gRPC methods + paths', rules: to({ methods: ['POST'], paths: ['/clew.test.Echo/Say'] }), probes: [A('grpc', 'allow'), A('grpc', 'deny', { rpc: 'Stream' }), A('http', 'deny')] },
    { name: 'gRPC DENY paths', action: 'DENY', rules: to({ paths: ['/clew.test.Echo/Stream'] }), probes: [A('grpc', 'allow'), A('grpc', 'deny', { rpc: 'Stream' }), B('grpc', 'deny', { rpc: 'Stream' })] },

    // ---- part 2
    // when, ALLOW
    { name: 'when request.headers[x-user]', rules: when('request.headers[x-user]', ['alice']), probes: aOnly('http', 'grpc') },
    { name: 'when request.headers[x-user] notValues', rules: when('request.headers[x-user]', ['alice'], true), probes: bOnly('http') },
    { name: 'when request.headers (prefix)', rules: when('request.headers[x-user]', ['ali*']), probes: aOnly('http') },
    { name: 'when source.ip', rules: when('source.ip', [`${addrA}/32`]), probes: aOnly('http', 'tcp') },
    { name: 'when remote.ip', rules: when('remote.ip', [addrA]), probes: aOnly('http', 'tcp') },
    { name: 'when source.namespace', rules: when('source.namespace', ['default']), probes: aOnly('http', 'tcp') },
    { name: 'when source.principal', rules: when('source.principal', [P_A]), probes: aOnly('http', 'grpc', 'tcp') },
    { name: 'when source.serviceAccount', rules: when('source.serviceAccount', ['default/sleep']), probes: aOnly('http') },
    { name: 'when request.auth.principal', rules: when('request.auth.principal', [`${ISS}/alice`]), probes: aOnly('http', 'grpc') },
    { name: 'when request.auth.audiences', rules: when('request.auth.audiences', ['web']), probes: aOnly('http') },
    { name: 'when request.auth.presenter', rules: when('request.auth.presenter', ['presenter-a']), probes: aOnly('http') },
    { name: 'when request.auth.claims[groups]', rules: when('request.auth.claims[groups]', ['admin']), probes: aOnly('http') },
    { name: 'when destination.ip', rules: when('destination.ip', [`${addrServer}/32`]), probes: [A('http', 'allow'), B('http', 'allow'), A('tcp', 'allow')] },
    { name: 'when destination.ip (other)', rules: when('destination.ip', ['10.9.9.9/32']), probes: [A('http', 'deny'), A('tcp', 'deny')] },
    { name: 'when destination.port', rules: when('destination.port', [String(HTTP)]), probes: [A('http', 'allow'), A('grpc', 'deny'), A('tcp', 'deny')] },
    { name: 'when destination.port notValues', rules: when('destination.port', [String(HTTP)], true), probes: [A('http', 'deny'), A('tcp', 'allow')] },
    { name: 'when connection.sni', rules: when('connection.sni', [`outbound_.${HTTP}_*`]), probes: [A('http', 'allow'), A('grpc', 'deny'), A('tcp', 'deny')] },
    { name: 'when connection.sni (TCP port)', rules: when('connection.sni', [`outbound_.${TCP}_._.${FQDN}`]), probes: [A('tcp', 'allow'), A('http', 'deny')] },

    // actions
    { name: 'DENY source.principals', action: 'DENY', rules: from({ principals: [P_A] }), probes: bOnly('http', 'grpc', 'tcp') },
    { name: 'DENY operation.paths', action: 'DENY', rules: to({ paths: ['/admin/*'] }), probes: [A('http', 'allow'), A('http', 'deny', { path: '/admin/x' }), A('grpc', 'allow')] },
    { name: 'AUDIT never denies', action: 'AUDIT', rules: from({ principals: [P_A] }), probes: [A('http', 'allow'), B('http', 'allow'), A('tcp', 'allow'), B('tcp', 'allow')] },

    // TCP: HTTP-only fields drop an ALLOW rule (nothing is allowed) and widen a DENY rule
    { name: 'TCP: ALLOW with methods is dropped', rules: to({ methods: ['GET'] }), probes: [A('http', 'allow'), A('tcp', 'deny'), B('tcp', 'deny')] },
    { name: 'TCP: ALLOW with a request.headers condition is dropped', rules: when('request.headers[x-user]', ['alice']), probes: [A('http', 'allow'), A('tcp', 'deny')] },
    { name: 'TCP: ALLOW with requestPrincipals is dropped', rules: from({ requestPrincipals: ['*'] }), probes: [A('http', 'allow'), A('tcp', 'deny')] },
    { name: 'TCP: DENY with methods denies every connection', action: 'DENY', rules: to({ methods: ['POST'] }), probes: [A('http', 'allow'), A('tcp', 'deny'), B('tcp', 'deny')] },
    { name: 'TCP: DENY with paths scoped by ports leaves TCP alone', action: 'DENY', rules: to({ paths: ['/admin/*'], ports: [String(HTTP)] }), probes: [A('http', 'deny', { path: '/admin/x' }), A('http', 'allow'), A('tcp', 'allow')] },
    { name: 'TCP: DENY with requestPrincipals denies every connection', action: 'DENY', rules: from({ requestPrincipals: ['*'] }), probes: [A('http', 'deny'), A('tcp', 'deny'), B('tcp', 'deny')] },
    { name: 'TCP: DENY loses notRequestPrincipals and keeps principals', action: 'DENY', rules: from({ notRequestPrincipals: ['*'], principals: [P_B] }), probes: [A('http', 'allow'), A('tcp', 'allow'), B('tcp', 'deny')] },

    // dry run: nothing is enforced, the shadow counters tell what would have happened
    {
      name: 'dry-run DENY', action: 'DENY', dryRun: true, rules: from({ principals: [P_A] }),
      probes: [A('http', 'allow', { shadow: 'deny' }), B('http', 'allow', { shadow: 'allow' }), A('grpc', 'allow', { shadow: 'deny' }), A('tcp', 'allow', { shadow: 'deny' }), B('tcp', 'allow', { shadow: 'allow' })],
    },
    {
      name: 'dry-run ALLOW', action: 'ALLOW', dryRun: true, rules: from({ principals: [P_A] }),
      probes: [A('http', 'allow', { shadow: 'allow' }), B('http', 'allow', { shadow: 'deny' }), B('tcp', 'allow', { shadow: 'deny' })],
    },
  ];
  const split = all.findIndex((r) => r.name.startsWith('when '));
  return part === 1 ? all.slice(0, split) : all.slice(split);
}

// ---------------------------------------------------------------- setup
/** The mesh for one test file (its own address block: set $CLEW_LOCAL_FIRST_BLOCK first). */
export async function startTableMesh(): Promise<void> {
  const stateDir = tempDir('clew-e2e-authz-table-state-');
  const configDir = tempDir('clew-e2e-authz-table-config-');
  writeFileSync(join(configDir, 'web.yaml'), `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http-web, port: ${HTTP}, targetPort: ${HTTP}}
  - {name: grpc-echo, port: ${GRPC}, targetPort: ${GRPC}}
  - {name: tcp-echo, port: ${TCP}, targetPort: ${TCP}}
`);
  const key = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(key.publicKey)), kid: 't1', alg: 'ES256', use: 'sig' };
  const sign = (sub: string, aud: string, azp: string, groups: string[]): Promise<string> =>
    new SignJWT({ azp, groups }).setProtectedHeader({ alg: 'ES256', kid: 't1' }).setIssuer(ISS).setSubject(sub).setAudience(aud)
      .setIssuedAt().setExpirationTime('1h').sign(key.privateKey);
  writeFileSync(join(configDir, 'jwt.yaml'), `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules:
  - issuer: ${ISS}
    audiences: [web, other]
    jwks: '${JSON.stringify({ keys: [jwk] })}'
`);
  cp = await startControlPlane(configDir);
  const serverPlan = await planSidecar({ name: 'web', labels: { app: 'web' }, ports: [HTTP, GRPC, TCP], xdsAddress: cp.xdsAddress, stateDir });
  const web = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end(`app saw ${req.method} ${req.url}`));
  });
  const tcp = net.createServer((s) => {
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(`tcp:${d.toString()}`));
  });
  servers.push(web, tcp);
  grpcServer = await startEchoServer('web', serverPlan.address);
  const appPorts = { [HTTP]: await listen(web, serverPlan.address), [GRPC]: grpcServer.port, [TCP]: await listen(tcp, serverPlan.address) };
  const planA = await planSidecar({ name: 'sleep', labels: { app: 'sleep' }, xdsAddress: cp.xdsAddress, stateDir });
  const planB = await planSidecar({ name: 'intruder', namespace: 'other', labels: { app: 'intruder' }, xdsAddress: cp.xdsAddress, stateDir });
  // the server first, then both clients: fewer sidecars getting certificates at once on a loaded
  // machine (two of these meshes and a demo may start together in the suite)
  const [srv, a, b] = await startSidecar(serverPlan, appPorts, 40_000)
    .then(async (srv) => [srv, ...(await Promise.all([startSidecar(planA, {}, 40_000), startSidecar(planB, {}, 40_000)]))])
    .catch((err: Error) => {
      throw new Error(`${err.message}\n--- control plane output (last 3000 chars) ---\n${cp.output().slice(-3000)}`);
    });
  server = srv;
  clients.A = { sidecar: a, agent: new ProxyAgent({ uri: a.outboundUrl, proxyTunnel: false }), user: 'alice', token: await sign('alice', 'web', 'presenter-a', ['admin']) };
  clients.B = { sidecar: b, agent: new ProxyAgent({ uri: b.outboundUrl, proxyTunnel: false }), user: 'bob', token: await sign('bob', 'other', 'presenter-b', ['user']) };
  addrA = a.address;
  addrB = b.address;
  addrServer = srv.address;
  assert.notEqual(addrA, addrB);
  for (const who of ['A', 'B'] as const) {
    for (const proto of ['http', 'grpc', 'tcp'] as const) {
      await waitFor(async () => (await probe({ who, proto, expect: 'allow' }).catch(() => 'deny')) === 'allow', 20_000, `${who} to reach web over ${proto}`);
    }
  }
}

after(async () => {
  for (const s of servers) s.close();
  await grpcServer?.stop();
  await Promise.all(Object.values(clients).map((c) => c.agent.close()));
});

function policy(i: number, r: Row): string {
  const annotations = r.dryRun ? ', annotations: {"istio.io/dry-run": "true"}' : '';
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: row-${i}, namespace: default${annotations}}
spec: ${JSON.stringify({ selector: { matchLabels: { app: 'web' } }, action: r.action ?? 'ALLOW', rules: r.rules })}
`;
}

async function configDump(): Promise<string> {
  const res = await request(`${server.adminUrl}/config_dump`);
  return res.body.text();
}

/** Polls a probe until it gives `expect` (a connection from before the push drains), bounded. */
async function settle(p: Probe): Promise<void> {
  let last = '';
  await waitFor(async () => {
    try {
      const got = await probe(p);
      last = got;
      return got === p.expect;
    } catch (err) {
      last = (err as Error).message;
      return false;
    }
  }, 6000, () => `${describe(p)}: expected ${p.expect}, last ${last}`);
}

/** Applies each row's policy in turn (replacing the previous one), waits for the push, runs its probes; asserts none failed. */
export async function runRows(table: Row[], first: number): Promise<void> {
  const failures: string[] = [];
  let previous: string | undefined;
  for (const [k, r] of table.entries()) {
    const i = first + k;
    const yaml = policy(i, r);
    if (previous) await deleteConfig(cp, previous);
    await applyConfig(cp, yaml);
    previous = yaml;
    await waitFor(async () => {
      const dump = await configDump();
      return dump.includes(`policy[row-${i}]`) && (k === 0 || !dump.includes(`policy[row-${i - 1}]`));
    }, 10_000, `row ${i} (${r.name}) to reach the server sidecar`);
    const check = async (p: Probe): Promise<void> => {
      try {
        await settle(p);
        if (p.shadow === undefined) {
          assert.equal(await probe(p), p.expect, `${describe(p)} again`);
          return;
        }
        const prefix = r.action === 'DENY' ? 'istio_dry_run_deny_' : 'istio_dry_run_allow_';
        const name = shadowStat(p, prefix, p.shadow);
        const before = await server.stat(name);
        assert.equal(await probe(p), p.expect, `${describe(p)} again`);
        await waitFor(async () => (await server.stat(name)) === before + 1, 3000, () => `${name} to count the probe (was ${before})`);
      } catch (err) {
        failures.push(`row ${i} "${r.name}": ${(err as Error).message}`);
      }
    };
    // a row's probes are independent and run at once; dry-run probes one by one (each counts one request)
    if (r.dryRun) for (const p of r.probes) await check(p);
    else await Promise.all(r.probes.map(check));
  }
  assert.deepEqual(failures, [], `${failures.length} probes failed:\n${failures.join('\n')}`);
}
