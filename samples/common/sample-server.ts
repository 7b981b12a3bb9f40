/**
 * Process plumbing shared by the sample apps: listen on HOST/PORT, answer with JSON/text helpers,
 * and shut down cleanly on SIGTERM/SIGINT (the supervisor of `clew demo` stops them that way).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeSampleAgents } from './sample-http-client.js';

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Wraps an async handler so a thrown error becomes a 500 instead of an unhandled rejection. */
export function safeHandler(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void,
): http.RequestListener {
  return (req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) sendText(res, 500, `internal error: ${(err as Error).message}\n`);
        else res.destroy();
      });
  };
}

/** Listens on env HOST (default 0.0.0.0) and PORT (default `defaultPort`). */
export async function listenFromEnv(server: http.Server, defaultPort: number, env = process.env): Promise<AddressInfo> {
  const host = env.HOST || '0.0.0.0';
  const port = env.PORT ? Number(env.PORT) : defaultPort;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid PORT: ${env.PORT}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Closes the server: stop accepting, end idle keep-alive sockets, force the rest after a grace. */
export async function closeServer(server: http.Server, graceMs = 2000): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

/** Entry point of a sample process: listen, log the address, exit 0 on SIGTERM/SIGINT. */
export async function runSample(name: string, server: http.Server, defaultPort: number): Promise<void> {
  const addr = await listenFromEnv(server, defaultPort);
  console.log(`${name} listening on ${addr.address}:${addr.port}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${name} received ${signal}, shutting down`);
    closeSampleAgents();
    closeServer(server).then(() => process.exit(0), () => process.exit(1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
