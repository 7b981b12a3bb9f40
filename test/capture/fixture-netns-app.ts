/**
 * A pod's app for capture tests, started unchanged inside its network namespace: HTTP on $PORT
 * (and any port in $EXTRA_HTTP_PORTS) answering JSON {pod, port, host, remote, path}; a TCP echo
 * on $ECHO_PORT; on $PEER_PORT a TCP server that writes the caller's address and closes; with
 * $DNS_NAME a DNS server on UDP 53 answering that name with $POD_IP (NXDOMAIN for the rest: an
 * upstream resolver outside the mesh). It calls nothing itself.
 */
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as net from 'node:net';
import dnsPacket from 'dns-packet';

const pod = process.env.POD_NAME ?? '?';
const env = process.env;
const httpPorts = [env.PORT, ...(env.EXTRA_HTTP_PORTS ?? '').split(',')].filter(Boolean).map(Number);

for (const port of httpPorts) {
  http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ pod, port, host: req.headers.host, remote: req.socket.remoteAddress, path: req.url, proxy: { http: env.HTTP_PROXY ?? env.http_proxy ?? null } }));
    });
  }).listen(port, '0.0.0.0');
}
if (env.ECHO_PORT) net.createServer((s) => { s.on('error', () => undefined); s.pipe(s); }).listen(Number(env.ECHO_PORT), '0.0.0.0');
if (env.PEER_PORT) net.createServer((s) => { s.on('error', () => undefined); s.end(`${s.remoteAddress}\n`); }).listen(Number(env.PEER_PORT), '0.0.0.0');
if (env.DNS_NAME) {
  const dns = dgram.createSocket('udp4');
  dns.on('error', () => undefined);
  dns.on('message', (m, r) => {
    let q: dnsPacket.DecodedPacket;
    try {
      q = dnsPacket.decode(m);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    const hit = question?.name.toLowerCase() === env.DNS_NAME && question?.type === 'A';
    dns.send(dnsPacket.encode({
      type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | (hit || question?.name.toLowerCase() === env.DNS_NAME ? 0 : 3),
      questions: q.questions, answers: hit ? [{ name: question!.name, type: 'A', class: 'IN', ttl: 5, data: env.POD_IP ?? '127.0.0.1' }] : [],
    }), r.port, r.address);
  });
  dns.bind(53, '0.0.0.0');
}
process.stdout.write(`app ${pod} listening on ${httpPorts.join(',')}${env.ECHO_PORT ? ` echo ${env.ECHO_PORT}` : ''}${env.PEER_PORT ? ` peer ${env.PEER_PORT}` : ''}\n`);
process.on('SIGTERM', () => process.exit(0));
