/**
 * A pod's app for capture tests, started unchanged inside its network namespace: HTTP on $PORT
 * (and any port in $EXTRA_HTTP_PORTS) answering JSON {pod, port, host, remote, path}; a TCP echo
 * on $ECHO_PORT; on $PEER_PORT a TCP server that writes the caller's address and closes. It
 * calls nothing itself.
 */
import * as http from 'node:http';
import * as net from 'node:net';

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
process.stdout.write(`app ${pod} listening on ${httpPorts.join(',')}${env.ECHO_PORT ? ` echo ${env.ECHO_PORT}` : ''}${env.PEER_PORT ? ` peer ${env.PEER_PORT}` : ''}\n`);
process.on('SIGTERM', () => process.exit(0));
