/** Real upstream servers for proxy tests: an HTTP echo with knobs, TCP echo. */
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface EchoReply {
  name: string;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface EchoServer {
  name: string;
  port: number;
  server: http.Server;
  requests: EchoReply[];
  /** respond with this status to the next N requests */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

/**
 * Echoes the request as JSON. Paths: /status/<code>, /delay/<ms>, anything else -> 200.
 * failNext(n) answers the next n requests with 503 (retry tests).
 */
export async function startEcho(name: string, host = '127.0.0.1'): Promise<EchoServer> {
  const requests: EchoReply[] = [];
  let failing = 0;
  let failStatus = 503;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply: EchoReply = { name, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      requests.push(reply);
      const send = (status: number): void => {
        const body = JSON.stringify(reply);
        res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': name, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (failing > 0) {
        failing--;
        return send(failStatus);
      }
      const m = /\/(status|delay)\/(\d+)/.exec(req.url ?? '');
      if (m?.[1] === 'status') return send(Number(m[2]));
      if (m?.[1] === 'delay') {
        const t = setTimeout(() => send(200), Number(m[2]));
        res.on('close', () => clearTimeout(t));
        return;
      }
      send(200);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    server,
    requests,
    failNext(n, status = 503) {
      failing = n;
      failStatus = status;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export async function startTcpEcho(prefix = ''): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => s.write(prefix + d.toString()));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * A free TCP port on 127.0.0.1 nobody listens on (connection refused), also handed to spawned
 * proxies as a fixed port. It is drawn below the kernel's ephemeral range (32768+ here), so a
 * port-0 listener or client socket of a test running in parallel cannot take it in the time
 * between this check and the proxy's bind.
 */
export async function closedPort(): Promise<number> {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 12000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(p, '127.0.0.1', () => r(true));
    });
    if (!ok) continue;
    await new Promise<void>((r) => s.close(() => r()));
    return p;
  }
}
