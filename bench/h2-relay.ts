/**
 * The HTTP/2 floor: the least a Node proxy built on node:http2 does per request. h2c in, one
 * h2c session to one upstream out; each downstream stream becomes one upstream stream (request
 * headers minus the connection's own, the body piped), and the response (headers, body,
 * trailers: gRPC status) goes back. No routing, no filters, no telemetry, no timers. What Clew's
 * sidecar costs above this is Clew's; what this costs is node:http2's (bench/instructions.ts
 * --floor measures it the same way as the sidecar).
 *
 *   node dist/bench/h2-relay.js --port N --upstream-port M [--host 127.0.0.1] [--lean-bind]
 * (--lean-bind: with Clew's AsyncResource.bind, src/proxy/upstream/h2-request-bind.ts)
 * Prints one JSON line `{"ready":true,"port":N}` when listening.
 */
import * as http2 from 'node:http2';
import { installLeanAsyncResourceBind } from '../src/proxy/upstream/h2-request-bind.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const host = arg('--host') ?? '127.0.0.1';
const port = Number(arg('--port') ?? 0);
const upstreamPort = Number(arg('--upstream-port'));
if (!Number.isInteger(upstreamPort) || upstreamPort <= 0) throw new Error('--upstream-port is required');
if (process.argv.includes('--lean-bind')) installLeanAsyncResourceBind();

let upstream: http2.ClientHttp2Session | undefined;
function session(): http2.ClientHttp2Session {
  if (upstream && !upstream.closed && !upstream.destroyed) return upstream;
  const s = http2.connect(`http://${host}:${upstreamPort}`);
  s.on('error', () => undefined);
  s.on('close', () => {
    if (upstream === s) upstream = undefined;
  });
  upstream = s;
  return s;
}

function onStream(down: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  down.on('error', () => undefined);
  const out: http2.OutgoingHttpHeaders = {};
  for (const k in headers) if (k !== ':scheme') out[k] = headers[k];
  const endStream = down.endAfterHeaders;
  let up: http2.ClientHttp2Stream;
  try {
    up = session().request(out, { endStream });
  } catch {
    down.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  up.on('error', () => down.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  if (!endStream) down.pipe(up);
  let trailers: http2.OutgoingHttpHeaders | undefined;
  up.on('response', (h) => {
    const res: http2.OutgoingHttpHeaders = {};
    for (const k in h) res[k] = h[k];
    if (down.destroyed) return;
    down.respond(res, { waitForTrailers: true });
    down.once('wantTrailers', () => down.sendTrailers(trailers ?? {}));
  });
  up.on('trailers', (t) => {
    trailers = {};
    for (const k in t) trailers[k] = t[k];
  });
  up.on('data', (c: Buffer) => {
    if (!down.write(c)) {
      up.pause();
      down.once('drain', () => up.resume());
    }
  });
  up.on('end', () => down.end());
  down.on('close', () => {
    if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
  });
}

const server = http2.createServer({ maxSessionMemory: 64 });
server.on('stream', onStream);
server.on('sessionError', () => undefined);
server.listen(port, host, () => {
  process.stdout.write(JSON.stringify({ ready: true, port: (server.address() as { port: number }).port }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
