/**
 * Ways a local-mode app reaches a service through its sidecar's outbound port (its HTTP_PROXY):
 * `CONNECT host:port` tunnels (for any protocol: raw TCP, h2c, WebSocket) as HTTP_PROXY-aware
 * clients such as grpc-js do, an http.Agent that tunnels every connection (for `ws`), and curl.
 */
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';

/** Opens a `CONNECT target` tunnel through the proxy; resolves with the socket once it answered 200. */
export function connectTunnel(proxy: { host: string; port: number }, target: string, timeoutMs = 5000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(proxy.port, proxy.host);
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error(`CONNECT ${target}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('error', fail);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.[01] 200 /.test(status)) return fail(new Error(`CONNECT ${target}: ${status}`));
      const rest = head.subarray(end + 4);
      if (rest.length) sock.unshift(rest);
      resolve(sock);
    };
    sock.on('data', onData);
    sock.once('error', fail);
    sock.once('connect', () => sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
  });
}

/** An http.Agent whose connections are CONNECT tunnels through the proxy (https-proxy-agent's idea, for ws://). */
export class TunnelAgent extends http.Agent {
  constructor(private readonly proxy: { host: string; port: number }) {
    super({ keepAlive: false });
  }

  override createConnection(options: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): undefined {
    connectTunnel(this.proxy, `${options.host}:${options.port}`).then((s) => cb?.(null, s), (err: Error) => cb?.(err, undefined as unknown as Duplex));
    return undefined;
  }
}

/** Runs curl (bounded); resolves with stdout, rejects with stderr on a non-zero exit. */
export function curl(args: string[], timeoutS = 10): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('curl', ['-sS', '--max-time', String(timeoutS), ...args], { timeout: (timeoutS + 5) * 1000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`curl ${args.join(' ')}: ${err.message} ${stderr}`)) : resolve(stdout)),
  );
}
