/** Test helpers for the HTTP/1.1 pool: a result collector, event counters, raw TCP servers. */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Http1Pool } from '../../../src/proxy/upstream/pool-http1.js';
import { RAW_BUFFER } from '../../../src/proxy/transport/raw-buffer.js';
import type { InHeaders, UpstreamControl, UpstreamError, UpstreamRequest } from '../../../src/proxy/core/pool.js';

export interface PoolEvents {
  connect: number;
  disconnect: number;
  connectFail: number;
}

export function newPool(
  port: number,
  opts: Partial<{ maxConnections: number; connectTimeoutMs: number; maxRequestsPerConnection: number; idleTimeoutMs: number; keepaliveMs: number }> = {},
): { pool: Http1Pool; ev: PoolEvents } {
  const ev: PoolEvents = { connect: 0, disconnect: 0, connectFail: 0 };
  const pool = new Http1Pool(
    '127.0.0.1',
    port,
    { transport: RAW_BUFFER, maxConnections: 10, connectTimeoutMs: 2000, maxRequestsPerConnection: 0, ...opts },
    { onConnect: () => ev.connect++, onDisconnect: () => ev.disconnect++, onConnectFail: () => ev.connectFail++ },
  );
  return { pool, ev };
}

export interface Result {
  status?: number;
  headers?: InHeaders;
  endStream?: boolean;
  /** the body so far (joined at the end and on each read of `body`) */
  readonly body: Buffer;
  /** body bytes received so far */
  bytes: number;
  trailers?: InHeaders;
  error?: UpstreamError;
  /** handler calls in order: headers, data, end, error */
  calls: string[];
}

export interface Sent {
  control: UpstreamControl;
  result: Result;
  done: Promise<Result>;
}

/** Sends one request; `onData` may return false to pause (default true). */
export function send(pool: Http1Pool, req: Partial<UpstreamRequest>, onData?: (chunk: Buffer, r: Result) => boolean): Sent {
  const chunks: Buffer[] = [];
  const result: Result = {
    get body() {
      return Buffer.concat(chunks);
    },
    bytes: 0,
    calls: [],
  };
  let settle!: (r: Result) => void;
  const done = new Promise<Result>((r) => (settle = r));
  const control = pool.send(
    { method: 'GET', path: '/', authority: 'up', headers: { host: 'up' }, body: null, ...req },
    {
      onHeaders(status, headers, endStream) {
        result.calls.push('headers');
        Object.assign(result, { status, headers, endStream });
      },
      onData(chunk) {
        result.calls.push('data');
        chunks.push(chunk);
        result.bytes += chunk.length;
        return onData ? onData(chunk, result) : true;
      },
      onEnd(trailers) {
        result.calls.push('end');
        result.trailers = trailers;
        settle(result);
      },
      onError(err) {
        result.calls.push('error');
        result.error = err;
        settle(result);
      },
    },
  );
  return { control, result, done };
}

export interface RawServer {
  port: number;
  /** every accepted socket, in order */
  sockets: net.Socket[];
  /** bytes received per socket */
  received: string[];
  close(): Promise<void>;
}

/** A TCP server; `onData(sock, allSoFar, index)` sees each connection's accumulated bytes. */
export async function rawServer(onData: (sock: net.Socket, soFar: string, index: number) => void): Promise<RawServer> {
  const sockets: net.Socket[] = [];
  const received: string[] = [];
  const server = net.createServer((sock) => {
    const i = sockets.push(sock) - 1;
    received.push('');
    sock.on('error', () => undefined);
    sock.on('data', (d) => {
      received[i] += d.toString('latin1');
      onData(sock, received[i], i);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    received,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** the number of complete request heads in a connection's bytes */
export function heads(s: string): number {
  return s.split('\r\n\r\n').length - 1;
}

export async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
