/**
 * The benchmark's upstream: answers every request with a fixed 1 KiB body.
 *   --http-port N   HTTP/1.1 (keep-alive)
 *   --h2-port N     h2c (prior knowledge); gRPC unary calls (content-type application/grpc) get
 *                   a one-message reply and grpc-status 0, any other request the 1 KiB body
 *   --h2-port-2 N   the same on a second port
 *   --collector-port N  a trace collector stand-in: POSTs (Zipkin v2 JSON, OTLP) answer 202 and
 *                   are counted; GET /counts returns {"posts":n,"spans":n} (Zipkin spans)
 * Prints one JSON line `{"ready":true,...}` when listening.
 *
 *   node dist/bench/bench-upstream.js --http-port 8080 --h2-port 8081 [--h2-port-2 8082]
 *     [--collector-port 9411] [--host 127.0.0.1]
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';

const BODY = Buffer.alloc(1024, 'x');
// a gRPC length-prefixed message: uncompressed flag, 4-byte length, then a 16-byte payload
const GRPC_REPLY = Buffer.concat([Buffer.from([0, 0, 0, 0, 16]), Buffer.alloc(16, 0x61)]);

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const host = arg('--host') ?? '127.0.0.1';
const httpPort = Number(arg('--http-port') ?? 0);
const h2Port = arg('--h2-port') !== undefined ? Number(arg('--h2-port')) : undefined;
const h2PortB = arg('--h2-port-2') !== undefined ? Number(arg('--h2-port-2')) : undefined;
const collectorPort = arg('--collector-port') !== undefined ? Number(arg('--collector-port')) : undefined;

const received = { posts: 0, spans: 0 };
const collector = http.createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(received));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.posts++;
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (Array.isArray(body)) received.spans += body.length;
    } catch {
      // OTLP protobuf or anything else: counted as a post only
    }
    res.writeHead(202, { 'content-length': 0 });
    res.end();
  });
});

const h1 = http.createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
});
h1.keepAliveTimeout = 120_000;

function onH2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  const grpc = String(headers['content-type'] ?? '').startsWith('application/grpc');
  stream.on('error', () => undefined);
  stream.resume();
  const reply = () => {
    if (stream.destroyed) return;
    if (grpc) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(GRPC_REPLY);
    } else {
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': BODY.length });
      stream.end(BODY);
    }
  };
  if (stream.readableEnded || headers[':method'] === 'GET') reply();
  else stream.once('end', reply);
}

function h2Server(): http2.Http2Server {
  const s = http2.createServer({ maxSessionMemory: 64, settings: { maxConcurrentStreams: 1000 } });
  s.on('stream', onH2Stream);
  s.on('sessionError', () => undefined);
  return s;
}

function listen(server: http.Server | http2.Http2Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as { port: number }).port));
  });
}

async function main(): Promise<void> {
  const ports: Record<string, number> = { http: await listen(h1, httpPort) };
  if (h2Port !== undefined) ports.h2 = await listen(h2Server(), h2Port);
  if (h2PortB !== undefined) ports.h2b = await listen(h2Server(), h2PortB);
  if (collectorPort !== undefined) ports.collector = await listen(collector, collectorPort);
  process.stdout.write(JSON.stringify({ ready: true, host, ...ports }) + '\n');
}

process.on('SIGTERM', () => process.exit(0));
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
