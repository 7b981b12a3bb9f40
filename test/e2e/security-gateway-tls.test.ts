/**
 * Gateway TLS and egress TLS origination (issue 17 Must show 5), each checked with curl against
 * a real ingress gateway and sidecars configured by Clew's real control plane: SIMPLE with
 * certificate files and with a credentialName (a kubernetes.io/tls Secret), MUTUAL (a client
 * certificate required), PASSTHROUGH routed by SNI to a backend that terminates TLS itself,
 * httpsRedirect (301 to https), and a sidecar originating TLS to an HTTPS ServiceEntry (SIMPLE).
 * Certificates come from openssl, made by the test.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { join } from 'node:path';
import { planPod } from '../../src/local/local-pod.js';
import { freePorts } from '../../src/local/local-ports.js';
import { applyConfig, curl, planSidecar, startControlPlane, startSidecar, tempDir, waitFor, type ControlPlaneProc, type Sidecar } from './mesh-stack.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '93';

let cp: ControlPlaneProc;
let gateway: Sidecar;
let client: Sidecar;
let gw: { host: string; http: number; https: number; mutual: number; pass: number };
let certs: string;
let externalPort: number;
const closers: Array<() => unknown> = [];

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA, and leaf certificates (server: DNS SAN; client: a SPIFFE-like URI) signed by it. */
function makeCerts(dir: string): void {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=clew test CA'], dir);
  const leaf = (name: string, ext: string): void => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  for (const host of ['web.example.com', 'cred.example.com', 'mtls.example.com', 'pass.example.com', 'external.example.com']) {
    leaf(host, `subjectAltName=DNS:${host}\nextendedKeyUsage=serverAuth`);
  }
  leaf('client', 'subjectAltName=URI:spiffe://example.com/client\nextendedKeyUsage=clientAuth');
  // a replacement for cred.example.com's certificate (its CN tells the two apart)
  leaf('cred-renewed', 'subjectAltName=DNS:cred.example.com\nextendedKeyUsage=serverAuth');
}

function config(passPort: number): string {
  const b64 = (f: string): string => readFileSync(join(certs, f)).toString('base64');
  return `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 8080, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: passthrough, namespace: default}
spec:
  selector: {app: passthrough}
  ports:
  - {name: tls, port: 8443, targetPort: 8443}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: passthrough, namespace: default}
spec:
  address: 127.0.0.1
  labels: {app: passthrough}
  ports: {tls: ${passPort}}
---
apiVersion: v1
kind: Secret
metadata: {name: cred-cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: ${b64('cred.example.com.pem')}
  tls.key: ${b64('cred.example.com.key')}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ['*/web.example.com']
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https-files, protocol: HTTPS}
    hosts: ['*/web.example.com']
    tls: {mode: SIMPLE, serverCertificate: ${join(certs, 'web.example.com.pem')}, privateKey: ${join(certs, 'web.example.com.key')}}
  - port: {number: 443, name: https-cred, protocol: HTTPS}
    hosts: ['*/cred.example.com']
    tls: {mode: SIMPLE, credentialName: cred-cert}
  - port: {number: 8443, name: https-mutual, protocol: HTTPS}
    hosts: ['*/mtls.example.com']
    tls: {mode: MUTUAL, serverCertificate: ${join(certs, 'mtls.example.com.pem')}, privateKey: ${join(certs, 'mtls.example.com.key')}, caCertificates: ${join(certs, 'ca.pem')}}
  - port: {number: 9443, name: tls-pass, protocol: TLS}
    hosts: ['*/pass.example.com']
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web.example.com, cred.example.com, mtls.example.com]
  gateways: [istio-system/gw]
  http:
  - route: [{destination: {host: web, port: {number: 8080}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: passthrough, namespace: default}
spec:
  hosts: [pass.example.com]
  gateways: [istio-system/gw]
  tls:
  - match: [{sniHosts: [pass.example.com], port: 9443}]
    route: [{destination: {host: passthrough, port: {number: 8443}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external, namespace: default}
spec:
  hosts: [external.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: ${externalPort}, name: http-ext, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: external, namespace: default}
spec:
  host: external.example.com
  trafficPolicy:
    tls: {mode: SIMPLE, caCertificates: ${join(certs, 'ca.pem')}, sni: external.example.com}
`;
}

function listen(srv: net.Server, host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, host, () => resolve((srv.address() as net.AddressInfo).port));
  });
}

before(async () => {
  certs = tempDir('clew-e2e-gwtls-certs-');
  makeCerts(certs);
  const stateDir = tempDir('clew-e2e-gwtls-state-');
  const configDir = tempDir('clew-e2e-gwtls-config-');

  // the passthrough backend terminates TLS itself; the external service is HTTPS on loopback
  const tlsOf = (host: string) => ({ cert: readFileSync(join(certs, `${host}.pem`)), key: readFileSync(join(certs, `${host}.key`)) });
  const answer = (name: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, tls: 'encrypted' in req.socket, host: req.headers.host }));
  };
  const pass = https.createServer(tlsOf('pass.example.com'), answer('passthrough-backend'));
  const external = https.createServer(tlsOf('external.example.com'), answer('external-https'));
  const passPort = await listen(pass, '127.0.0.1');
  [externalPort] = await freePorts('127.0.0.1', 1);
  await listen(external, '127.0.0.1', externalPort);
  closers.push(() => pass.close(), () => external.close());
  writeFileSync(join(configDir, 'config.yaml'), config(passPort));
  cp = await startControlPlane(configDir);

  const webPlan = await planSidecar({ name: 'web', ports: [8080], xdsAddress: cp.xdsAddress, stateDir });
  const web = http.createServer(answer('web'));
  const webAppPort = await listen(web, webPlan.address);
  closers.push(() => web.close());
  const clientPlan = await planSidecar({ name: 'client', xdsAddress: cp.xdsAddress, stateDir });
  const [p80, p443, p8443, p9443] = await freePorts('127.0.0.1', 4);
  const gwPlan = await planPod({
    name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, serviceAccount: 'istio-ingressgateway-service-account',
    ports: [], xdsAddress: cp.xdsAddress, type: 'router',
    extraProxyArgs: ['--remap-port', `80=${p80}`, '--remap-port', `443=${p443}`, '--remap-port', `8443=${p8443}`, '--remap-port', `9443=${p9443}`],
  }, stateDir);
  closers.push(() => gwPlan.network.release());
  [gateway, client] = await Promise.all([startSidecar(gwPlan), startSidecar(clientPlan), startSidecar(webPlan, { 8080: webAppPort })]);
  gw = { host: gwPlan.address, http: p80, https: p443, mutual: p8443, pass: p9443 };
  let last = '';
  await waitFor(async () => (last = await tryCurl(https_('web.example.com', gw.https))).startsWith('200'), 30_000,
    () => `the gateway to serve https://web.example.com: ${last}\n${gateway.output().slice(-3000)}\ncontrol plane: ${cp.output().slice(-3000)}`);
}, { timeout: 90_000 });

after(() => {
  for (const c of closers) c();
});

/** curl arguments for https://<host>:<port>/ through the gateway, trusting the test CA. */
function https_(host: string, port: number, extra: string[] = []): string[] {
  // Host without the port: the gateway's ports are remapped (443 is served on a free port)
  return ['--cacert', join(certs, 'ca.pem'), '--resolve', `${host}:${port}:${gw.host}`, '-H', `Host: ${host}`, ...extra, '-w', '\n%{http_code}', `https://${host}:${port}/hello`];
}

/** "<status>\n<body>" or "ERR <message>" */
async function tryCurl(args: string[]): Promise<string> {
  try {
    const out = await curl(args, 5);
    const i = out.lastIndexOf('\n');
    return `${out.slice(i + 1)}\n${out.slice(0, i)}`;
  } catch (err) {
    return `ERR ${(err as Error).message}`;
  }
}

/** The subject of the certificate the gateway presents for an SNI name (openssl s_client). */
function subjectOf(sni: string, port: number): string {
  return execFileSync('sh', ['-c', `openssl s_client -connect ${gw.host}:${port} -servername ${sni} </dev/null 2>/dev/null | openssl x509 -noout -subject`], { encoding: 'utf8', timeout: 10_000 });
}

function body(out: string): any {
  return JSON.parse(out.slice(out.indexOf('\n') + 1));
}

test('SIMPLE with certificate files: curl verifies the gateway as web.example.com and reaches the app', async () => {
  const out = await tryCurl(https_('web.example.com', gw.https));
  assert.ok(out.startsWith('200\n'), out);
  assert.equal(body(out).name, 'web');
  // the certificate presented is the file's
  assert.match(subjectOf('web.example.com', gw.https), /CN ?= ?web\.example\.com/);
});

test('SIMPLE with credentialName: the certificate comes from the kubernetes.io/tls Secret, chosen by SNI on the same port; a changed Secret is served without a restart', async () => {
  const out = await tryCurl(https_('cred.example.com', gw.https));
  assert.ok(out.startsWith('200\n'), out);
  assert.equal(body(out).name, 'web');
  assert.match(subjectOf('cred.example.com', gw.https), /CN ?= ?cred\.example\.com/);
  // a changed Secret reaches the gateway over ADS: the new certificate is served, no restart
  const b64 = (f: string): string => readFileSync(join(certs, f)).toString('base64');
  await applyConfig(cp, `apiVersion: v1
kind: Secret
metadata: {name: cred-cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: ${b64('cred-renewed.pem')}
  tls.key: ${b64('cred-renewed.key')}
`);
  await waitFor(() => /CN ?= ?cred-renewed/.test(subjectOf('cred.example.com', gw.https)), 15_000, 'the renewed certificate to be served');
  const again = await tryCurl(https_('cred.example.com', gw.https));
  assert.ok(again.startsWith('200\n'), again);
  assert.equal(gateway.proc.exitCode, null, 'the gateway was not restarted');
});

test('MUTUAL: without a client certificate the handshake is refused; with one signed by the CA the request passes', async () => {
  const without = await tryCurl(https_('mtls.example.com', gw.mutual));
  assert.ok(without.startsWith('ERR'), `expected a refusal, got ${without}`);
  const withCert = await tryCurl(https_('mtls.example.com', gw.mutual, ['--cert', join(certs, 'client.pem'), '--key', join(certs, 'client.key')]));
  assert.ok(withCert.startsWith('200\n'), withCert);
  assert.equal(body(withCert).name, 'web');
});

test('PASSTHROUGH by SNI: the backend terminates TLS with its own certificate', async () => {
  const out = await tryCurl(https_('pass.example.com', gw.pass));
  assert.ok(out.startsWith('200\n'), out);
  assert.deepEqual({ name: body(out).name, tls: body(out).tls }, { name: 'passthrough-backend', tls: true });
  // an SNI no route claims finds no chain: the connection is closed
  const other = await tryCurl(['--insecure', '--resolve', `nobody.example.com:${gw.pass}:${gw.host}`, `https://nobody.example.com:${gw.pass}/`]);
  assert.ok(other.startsWith('ERR'), other);
});

test('httpsRedirect: plain HTTP to the server gets a 301 to https', async () => {
  const out = await curl(['-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: web.example.com', `http://${gw.host}:${gw.http}/some/path?q=1`], 5);
  assert.equal(out, '301 https://web.example.com/some/path?q=1');
});

test('TLS origination: a sidecar calls an HTTPS ServiceEntry over plain HTTP; DestinationRule SIMPLE encrypts and verifies', async () => {
  let out = '';
  let stats = '';
  await waitFor(async () => {
    out = await tryCurl(['-x', client.outboundUrl, '-w', '\n%{http_code}', `http://external.example.com:${externalPort}/hello`]);
    stats = (await curl([`${client.adminUrl}/stats`])).split('\n').filter((l) => l.includes('external.example.com') && /ssl|cx_connect_fail|rq_total/.test(l)).join('\n');
    return out.startsWith('200\n');
  }, 15_000, () => `the external service through the client sidecar: ${out}\n${stats}\n${client.output().slice(-3000)}`);
  assert.deepEqual({ name: body(out).name, tls: body(out).tls }, { name: 'external-https', tls: true });
});
