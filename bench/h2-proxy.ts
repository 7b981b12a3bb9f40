/**
 * Node's own HTTP/2 floor: the least a node:http2 reverse proxy does. An h2c server whose every
 * stream becomes a stream on one h2c client session to the upstream: request headers and body
 * passed on, response headers, body and trailers (gRPC's grpc-status) passed back, backpressure
 * through pipe(). No routing, no filters, no telemetry, no pooling beyond the one session (an
 * HTTP/2 session multiplexes; the upstream allows far more concurrent streams than the load has).
 * What Clew's sidecar does for HTTP/2 and gRPC on top of this costs more; bench/tcp-relay.ts (raw
 * bytes, no HTTP/2 framing at all) is the floor below it.
 *
 *   node dist/bench/h2-proxy.js --port 9000 --upstream-port 8081 [--host 127.0.0.1] [--lean-bind]
 * (--lean-bind: with Clew's AsyncResource.bind, src/proxy/upstream/h2-request-bind.ts, to see what
 * it saves on node:http2 alone.) Prints one JSON line `{"ready":true,...}` when listening. The suite
 * (bench/run.ts) and bench/instructions.ts --floor both run it.
 */
import * as http2 from 'node:http2';
import { installLeanAsyncResourceBind } from '../src/proxy/upstream/h2-request-bind.js';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`missing ${name}`);
  return process.argv[i + 1];
}

const port = Number(arg('--port'));
const upstreamPort = Number(arg('--upstream-port'));
const host = process.argv.includes('--host') ? arg('--host') : '127.0.0.1';
if (process.argv.includes('--lean-bind')) installLeanAsyncResourceBind();

/** hop-by-hop headers HTTP/2 forbids; node:http2 refuses to send them */
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings']);

function forwardable(h: http2.IncomingHttpHeaders, pseudo: readonly string[]): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP.has(k)) continue;
    if (k.startsWith(':') && !pseudo.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

let session: http2.ClientHttp2Session | undefined;

/** The one upstream session, opened again when it has closed or failed. */
function upstream(): http2.ClientHttp2Session {
  if (session && !session.closed && !session.destroyed) return session;
  const s = http2.connect(`http://127.0.0.1:${upstreamPort}`);
  s.on('error', () => s.destroy());
  s.on('close', () => {
    if (session === s) session = undefined;
  });
  session = s;
  return s;
}

const server = http2.createServer();
server.on('sessionError', () => undefined);
server.on('session', (s) => s.on('error', () => s.destroy()));
server.on('stream', (down, headers) => {
  let up: http2.ClientHttp2Stream;
  try {
    up = upstream().request(forwardable(headers, [':method', ':path', ':scheme', ':authority']));
  } catch {
    if (!down.destroyed) down.respond({ ':status': 502 }, { endStream: true });
    return;
  }
  let trailers: http2.IncomingHttpHeaders | undefined;
  const fail = () => {
    if (!up.destroyed) up.close(http2.constants.NGHTTP2_CANCEL);
    if (!down.destroyed) down.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  };
  down.on('error', fail);
  up.on('error', fail);
  down.pipe(up);
  up.on('trailers', (t) => {
    trailers = t;
  });
  up.on('response', (rh) => {
    if (down.destroyed) return;
    // gRPC ends with trailers: wait for them (they arrive before the upstream stream's 'end')
    const grpc = String(rh['content-type'] ?? '').startsWith('application/grpc');
    down.respond(forwardable(rh, [':status']), { waitForTrailers: grpc });
    if (grpc) down.once('wantTrailers', () => (trailers ? down.sendTrailers(forwardable(trailers, [])) : down.close()));
    up.pipe(down);
  });
});

process.on('SIGTERM', () => process.exit(0));
server.listen(port, host, () => process.stdout.write(JSON.stringify({ ready: true, kind: 'h2-proxy', host, port, upstreamPort }) + '\n'));
