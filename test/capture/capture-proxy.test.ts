/**
 * The proxy under transparent capture (REDIRECT, SO_ORIGINAL_DST through the native addon), with
 * pods in network namespaces: unmodified clients (curl, no proxy variables) and servers, every
 * connection captured by iptables, handed by virtualOutbound to the listener of its original
 * destination (service VIP:port, `0.0.0.0_<port>`), matched by virtualInbound on the original
 * port, passed through (ALLOW_ANY) or dropped (REGISTRY_ONLY) when unknown. Names resolve through
 * the sidecar's DNS proxy (port 53 captured): mesh names from the control plane's name table with
 * the VIPs it allocated, others from an upstream resolver in a pod outside the mesh.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { APP_FIXTURE, startNetnsMesh, type NetnsMesh } from '../helpers/netns-mesh.js';

// web and plain get their VIPs from the control plane; echo's is given
const ECHO_VIP = '10.96.201.11';
let WEB_VIP: string;
let PLAIN_VIP: string;

const SERVICES = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: server}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  clusterIP: ${ECHO_VIP}
  selector: {app: server}
  ports:
  - {name: tcp-echo, port: 9000, targetPort: 9000}
---
apiVersion: v1
kind: Service
metadata: {name: tp, namespace: default}
spec:
  selector: {app: tp}
  ports:
  - {name: http, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: default}
spec:
  selector: {app: server}
  ports:
  - {port: 8090, targetPort: 8090}
`;

let mesh: NetnsMesh;
let serverIp: string;
let outsideIp: string;

const curl = (pod: string, args: string): { code: number; body: string } => {
  const r = mesh.sh(pod, `curl -s -m 5 -w '\\n%{http_code}' ${args}`, true);
  const lines = r.stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { code: status, body: lines.join('\n') };
};

before(async () => {
  mesh = await startNetnsMesh({ prefix: 'ctproxy', podCidr: '10.201.0.0/16' });
  await mesh.apply(SERVICES);
  const vip = (name: string): string => mesh.cp.registry.serviceByHostname(`${name}.default.svc.cluster.local`)!.addresses[0];
  WEB_VIP = vip('web');
  PLAIN_VIP = vip('plain');
  const app = { command: process.execPath, args: [APP_FIXTURE] };
  // outside the mesh (no sidecar, another host): a web server and the pods' upstream resolver
  const outside = await mesh.addPod({
    name: 'outside', noSidecar: true, host: 'h2', ports: [80], app: { ...app, env: { EXTRA_HTTP_PORTS: '8080', DNS_NAME: 'outside.test' } },
  });
  outsideIp = outside.pod.ip;
  const dnsServers = [outsideIp];
  const server = await mesh.addPod({
    name: 'server', labels: { app: 'server', version: 'v1' }, ports: [8080, 9000, 8090], host: 'h1', dnsServers,
    app: { ...app, env: { ECHO_PORT: '9000', EXTRA_HTTP_PORTS: '8090', PEER_PORT: '7777' } },
  });
  serverIp = server.pod.ip;
  await mesh.addPod({ name: 'client', labels: { app: 'client' }, host: 'h1', dnsServers });
  // Istio's traffic.sidecar.istio.io annotations: ports and CIDRs the capture leaves alone
  await mesh.addPod({
    name: 'bypass', labels: { app: 'bypass' }, host: 'h1', dnsServers, ports: [8080],
    capture: { excludeOutboundPorts: [8080], excludeOutboundIpRanges: [`${outsideIp}/32`], excludeInboundPorts: [7777] },
    app: { ...app, env: { PEER_PORT: '7777' } },
  });
  // inbound by TPROXY instead of REDIRECT (the sidecar gets CAP_NET_ADMIN for IP_TRANSPARENT)
  await mesh.addPod({
    name: 'tp', labels: { app: 'tp' }, host: 'h2', dnsServers, ports: [8080], capture: { interceptionMode: 'TPROXY' }, app,
  });
}, { timeout: 120_000 });

after(() => mesh?.close());

test('HTTP by service name: resolved by the DNS proxy to the allocated VIP, captured, routed by 0.0.0.0_80, inbound on the original port', () => {
  assert.match(WEB_VIP, /^10\.(9[6-9]|10\d|11[01])\./, 'a ClusterIP from the service CIDR');
  assert.equal(mesh.sh('client', 'getent hosts web').stdout.split(/\s+/)[0], WEB_VIP);
  assert.equal(mesh.sh('client', 'getent hosts web.default.svc.cluster.local').stdout.split(/\s+/)[0], WEB_VIP);
  assert.ok(mesh.stat('client', 'dns.answered') >= 2);
  const r = curl('client', `http://web/hello`);
  assert.equal(r.code, 200, `${r.body}\n${mesh.output()}\n${mesh.sh('client', 'ip addr; ip route; iptables-save -t nat', true).stdout}`);
  const body = JSON.parse(r.body);
  assert.equal(body.pod, 'server');
  assert.equal(body.port, 8080);
  assert.equal(body.proxy.http, null, 'the app has no proxy variables');
  // the sidecar forwards to the app from 127.0.0.6, as Istio does
  assert.equal(body.remote, '127.0.0.6');
  assert.ok(mesh.stat('client', 'cluster.outbound|80||web.default.svc.cluster.local.upstream_rq_total') >= 1);
  assert.ok(mesh.stat('server', 'cluster.inbound|8080||.upstream_rq_total') >= 1);
  // the VIP dialled directly works the same
  const byIp = curl('client', `http://${WEB_VIP}/`);
  assert.equal(byIp.code, 200);
});

test('TCP to a service VIP: the <vip>_<port> listener, bytes both ways, the proxy\'s own connection not captured again', () => {
  const out0 = mesh.stat('client', 'cluster.outbound|9000||echo.default.svc.cluster.local.upstream_cx_total');
  const in0 = mesh.stat('server', 'cluster.inbound|9000||.upstream_cx_total');
  const out = spawnSync('ip', ['netns', 'exec', mesh.pods.get('client')!.pod.ns, process.execPath, '-e', `
    const s = require('net').connect(9000, '${ECHO_VIP}', () => s.write('ping-1234'));
    s.on('data', (d) => { process.stdout.write(d); s.end(); });
    s.on('error', (e) => { console.error(e.message); process.exit(1); });
  `], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(out.stdout, 'ping-1234', out.stderr);
  // one connection each way: the client sidecar's upstream connection (uid 1337) left the pod
  // as it was, not captured into 15001 again (that would loop and count more)
  assert.equal(mesh.stat('client', 'cluster.outbound|9000||echo.default.svc.cluster.local.upstream_cx_total') - out0, 1);
  assert.equal(mesh.stat('server', 'cluster.inbound|9000||.upstream_cx_total') - in0, 1);
  const prom = mesh.prometheus('client');
  assert.match(prom, /istio_tcp_sent_bytes_total\{[^}]*reporter="source"[^}]*destination_service_name="echo"[^}]*\} [1-9]/);
  assert.match(prom, /istio_tcp_received_bytes_total\{[^}]*reporter="source"[^}]*destination_service_name="echo"[^}]*\} [1-9]/);
});

test('an undeclared port is sniffed: HTTP gets HTTP metrics, raw bytes go through TCP', () => {
  assert.equal(mesh.sh('client', 'getent hosts plain').stdout.split(/\s+/)[0], PLAIN_VIP);
  const r = curl('client', `http://plain:8090/sniff`);
  assert.equal(r.code, 200, r.body);
  assert.equal(JSON.parse(r.body).port, 8090);
  assert.ok(mesh.stat('client', 'cluster.outbound|8090||plain.default.svc.cluster.local.upstream_rq_total') >= 1, 'routed as HTTP');
  assert.match(mesh.prometheus('server'), /istio_requests_total\{[^}]*destination_service_name="plain"[^}]*request_protocol="http"/);
});

test('an unknown destination passes through (ALLOW_ANY), its name from the upstream resolver; a client outside the mesh calling a pod IP goes through its inbound sidecar', () => {
  const r = curl('client', `http://outside.test:8080/`);
  assert.equal(r.code, 200, r.body);
  assert.equal(JSON.parse(r.body).pod, 'outside');
  assert.ok(mesh.stat('client', 'cluster.PassthroughCluster.upstream_cx_total') >= 1);
  const fromOutside = curl('outside', `http://${serverIp}:8080/direct`);
  assert.equal(fromOutside.code, 200, fromOutside.body);
  assert.equal(JSON.parse(fromOutside.body).remote, '127.0.0.6');
  // a port the workload does not declare: InboundPassthroughCluster, from 127.0.0.6
  // the client speaks first: under PERMISSIVE mTLS (the default) the TLS inspector waits for the
  // client's first bytes, so server-first protocols need STRICT or DISABLE, as in Istio
  const js = `const s = require('net').connect(7777, '${serverIp}', () => s.write('hi')); s.on('data', (d) => { process.stdout.write(d); s.end(); }); s.on('error', (e) => console.error(e.message));`;
  const peer = spawnSync('ip', ['netns', 'exec', mesh.pods.get('outside')!.pod.ns, process.execPath, '-e', js], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
  assert.equal(peer, '127.0.0.6');
  assert.ok(mesh.stat('server', 'cluster.InboundPassthroughCluster.upstream_cx_total') >= 1);
});

test('REGISTRY_ONLY: an unknown host on an HTTP port gets the BlackHole 502, other unknown TCP is closed', async () => {
  const sidecar = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
  await mesh.apply(sidecar);
  try {
    const none = (): number => mesh.stat('client', 'cluster.BlackHoleCluster.upstream_cx_none_healthy');
    const pass0 = mesh.stat('client', 'cluster.PassthroughCluster.upstream_cx_total');
    const http = curl('client', `http://outside.test/`);
    assert.equal(http.code, 502);
    const black0 = none();
    const tcp = curl('client', `http://${outsideIp}:8080/`);
    assert.equal(tcp.code, 0, 'connection closed, no HTTP answer');
    assert.equal(none() - black0, 1, 'the TCP connection went to BlackHoleCluster (no host)');
    assert.equal(mesh.stat('client', 'cluster.PassthroughCluster.upstream_cx_total'), pass0, 'nothing passed through');
    // mesh services still work
    assert.equal(curl('client', `http://${WEB_VIP}/`).code, 200);
  } finally {
    await mesh.remove(sidecar);
  }
  assert.equal(curl('client', `http://${outsideIp}:8080/`).code, 200);
});

test('excluded ports and CIDRs bypass the sidecar (outbound -o/-x, inbound -d)', () => {
  const pass0 = mesh.stat('bypass', 'cluster.PassthroughCluster.upstream_cx_total');
  // -o 8080: straight to outside:8080, not through the sidecar
  const port = curl('bypass', `http://${outsideIp}:8080/`);
  assert.equal(port.code, 200, port.body);
  // -x <outside>/32: port 80 to that address is not captured either (0.0.0.0_80 would route it)
  const cidr = curl('bypass', `http://${outsideIp}:80/`);
  assert.equal(cidr.code, 200, cidr.body);
  assert.equal(mesh.stat('bypass', 'cluster.PassthroughCluster.upstream_cx_total'), pass0, 'the sidecar saw neither');
  // the same calls from a captured pod do go through its sidecar
  const c0 = mesh.stat('client', 'cluster.PassthroughCluster.upstream_cx_total');
  assert.equal(curl('client', `http://${outsideIp}:8080/`).code, 200);
  assert.equal(mesh.stat('client', 'cluster.PassthroughCluster.upstream_cx_total') - c0, 1);
  // -d 7777: a caller reaches the app itself (it sees the caller's address, not 127.0.0.6)
  const bypassIp = mesh.pods.get('bypass')!.pod.ip;
  const js = (p: number) => `const s = require('net').connect(${p}, '${bypassIp}'); s.on('data', (d) => process.stdout.write(d)); s.on('error', (e) => console.error(e.message));`;
  const direct = spawnSync('ip', ['netns', 'exec', mesh.pods.get('outside')!.pod.ns, process.execPath, '-e', js(7777)], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
  assert.equal(direct, outsideIp);
  // a port not excluded goes through the inbound sidecar
  const viaSidecar = curl('outside', `http://${bypassIp}:8080/`);
  assert.equal(JSON.parse(viaSidecar.body).remote, '127.0.0.6');
});

test('TPROXY inbound: the sidecar gets connections still addressed to the pod (IP_TRANSPARENT), by original port', () => {
  const r = curl('client', 'http://tp/tproxy');
  assert.equal(r.code, 200, r.body);
  assert.equal(JSON.parse(r.body).pod, 'tp');
  assert.ok(mesh.stat('tp', 'cluster.inbound|8080||.upstream_rq_total') >= 1);
  assert.match(mesh.sh('tp', 'iptables-save -t mangle').stdout, /-j TPROXY --on-port 15006/);
  // a client outside the mesh too
  const direct = curl('outside', `http://${mesh.pods.get('tp')!.pod.ip}:8080/`);
  assert.equal(direct.code, 200, direct.body);
});
