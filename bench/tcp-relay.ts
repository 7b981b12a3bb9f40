/**
 * The floor of a Node.js proxy hop: a raw TCP byte relay, no HTTP parsing. Every downstream
 * connection gets its own upstream connection (both with TCP_NODELAY); each chunk read on one
 * side is written to the other, pausing the reader while the writer's buffer is full. Whatever a
 * Node proxy does on top of this (parsing, routing, pooling, telemetry) costs more.
 *
 *   node dist/bench/tcp-relay.js --port 9000 --upstream-port 8080 [--host 127.0.0.1]
 * Prints one JSON line `{"ready":true,...}` when listening.
 */
import * as net from 'node:net';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`missing ${name}`);
  return process.argv[i + 1];
}

const port = Number(arg('--port'));
const upstreamPort = Number(arg('--upstream-port'));
const host = process.argv.includes('--host') ? arg('--host') : '127.0.0.1';

/** Writes what `from` reads to `to`, with backpressure; ends `to` when `from` ends. */
function pipeRaw(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => to.end());
}

const server = net.createServer({ noDelay: true }, (down) => {
  // writes before the upstream connects are buffered by the socket
  const up = net.connect({ host: '127.0.0.1', port: upstreamPort, noDelay: true });
  pipeRaw(down, up);
  pipeRaw(up, down);
  // an end is passed on by pipeRaw (the other side flushes, then closes); an error ends both
  const fail = () => {
    down.destroy();
    up.destroy();
  };
  down.on('error', fail);
  up.on('error', fail);
});

process.on('SIGTERM', () => process.exit(0));
server.listen(port, host, () => process.stdout.write(JSON.stringify({ ready: true, kind: 'tcp-relay', host, port, upstreamPort }) + '\n'));
