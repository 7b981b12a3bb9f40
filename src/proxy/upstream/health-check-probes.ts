/**
 * One active health check against one host: HTTP/1.1 GET (Envoy's codec default), TCP connect
 * with optional send/receive payloads, or gRPC grpc.health.v1.Health/Check over h2c. Each probe
 * keeps its connection between checks when reuse_connection (Envoy's default).
 */
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import type { UpstreamTransport } from '../core/transport-socket.js';
import type { HealthCheckConfig } from './health-check-config.js';

/** Envoy's HealthCheckFailureType plus success. */
export type ProbeOutcome =
  | { ok: true }
  | { ok: false; type: 'active'; retriable: boolean; detail: string }
  | { ok: false; type: 'network' | 'timeout'; detail: string };

export interface Probe {
  check(timeoutMs: number): Promise<ProbeOutcome>;
  close(): void;
}

const ACTIVE = (retriable: boolean, detail: string): ProbeOutcome => ({ ok: false, type: 'active', retriable, detail });
const NETWORK = (detail: string): ProbeOutcome => ({ ok: false, type: 'network', detail });
const TIMEOUT: ProbeOutcome = { ok: false, type: 'timeout', detail: 'timeout' };

function inRanges(code: number, ranges: Array<[number, number]>): boolean {
  for (const [s, e] of ranges) if (code >= s && code < e) return true;
  return false;
}

class HttpProbe implements Probe {
  private readonly agent: http.Agent;

  constructor(private readonly address: string, private readonly port: number, private readonly cfg: HealthCheckConfig, private readonly authority: string, transport: UpstreamTransport) {
    this.agent = new http.Agent({ keepAlive: cfg.reuseConnection, maxSockets: 1 });
    // the cluster's transport socket (Envoy health checks use it too); http writes wait for TLS
    (this.agent as unknown as { createConnection: () => net.Socket }).createConnection = () => transport.connect(address, port, {});
  }

  check(timeoutMs: number): Promise<ProbeOutcome> {
    const h = this.cfg.http!;
    return new Promise((resolve) => {
      let done = false;
      const finish = (o: ProbeOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(o);
      };
      const headers: http.OutgoingHttpHeaders = { host: this.authority, 'user-agent': 'Envoy/HC' };
      for (const [k, v] of h.headers) headers[k] = v;
      if (!this.cfg.reuseConnection) headers.connection = 'close';
      const req = http.request({ host: this.address, port: this.port, method: h.method, path: h.path, headers, agent: this.agent }, (res) => {
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (inRanges(code, h.expected)) finish({ ok: true });
          else finish(ACTIVE(inRanges(code, h.retriable), `status ${code}`));
        });
        res.on('error', (e) => finish(NETWORK(e.message)));
      });
      const timer = setTimeout(() => {
        finish(TIMEOUT);
        req.destroy();
      }, timeoutMs);
      req.on('error', (e) => finish(NETWORK(e.message)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Each payload must be found in order, not necessarily contiguous (Envoy's fuzzy match). */
function matchesInOrder(buf: Buffer, parts: Buffer[]): boolean {
  let from = 0;
  for (const p of parts) {
    const i = buf.indexOf(p, from);
    if (i < 0) return false;
    from = i + p.length;
  }
  return true;
}

class TcpProbe implements Probe {
  private socket: net.Socket | undefined;
  /** ends the check in progress (a kept connection's error or close ends the current check) */
  private fail: ((o: ProbeOutcome) => void) | undefined;

  constructor(private readonly address: string, private readonly port: number, private readonly cfg: HealthCheckConfig, private readonly transport: UpstreamTransport) {}

  check(timeoutMs: number): Promise<ProbeOutcome> {
    const tcp = this.cfg.tcp!;
    return new Promise((resolve) => {
      let done = false;
      let received = Buffer.alloc(0);
      let sock = this.socket && !this.socket.destroyed ? this.socket : undefined;
      const finish = (o: ProbeOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock?.removeListener('data', onData);
        this.fail = undefined;
        if (!o.ok || !this.cfg.reuseConnection) {
          sock?.destroy();
          this.socket = undefined;
        }
        resolve(o);
      };
      this.fail = finish;
      const onData = (d: Buffer): void => {
        received = Buffer.concat([received, d]);
        if (matchesInOrder(received, tcp.receive)) finish({ ok: true });
      };
      const exchange = (s: net.Socket): void => {
        if (tcp.receive.length > 0) s.on('data', onData);
        if (tcp.send) s.write(tcp.send);
        if (tcp.receive.length === 0) finish({ ok: true });
      };
      const timer = setTimeout(() => finish(TIMEOUT), timeoutMs);
      if (sock) return exchange(sock);
      const t = this.transport;
      const s = (sock = t.connect(this.address, this.port, {}));
      this.socket = s;
      s.once(t.readyEvent, () => exchange(s));
      s.on('error', (e) => this.fail?.(NETWORK(e.message)));
      s.on('close', () => {
        if (this.socket === s) this.socket = undefined;
        this.fail?.(NETWORK('connection closed'));
      });
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

/** grpc.health.v1.HealthCheckRequest { service = 1 } in a gRPC frame. */
function grpcRequest(service: string): Buffer {
  const name = Buffer.from(service);
  const len: number[] = [];
  for (let n = name.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  const msg = name.length > 0 ? Buffer.concat([Buffer.from([0x0a, ...len]), name]) : Buffer.alloc(0);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** HealthCheckResponse.status (field 1, varint) from a gRPC frame; 0 (UNKNOWN) when absent. */
function grpcServingStatus(body: Buffer): number {
  const msg = body.subarray(5);
  return msg.length >= 2 && msg[0] === 0x08 ? msg[1] : 0;
}

class GrpcProbe implements Probe {
  private session: http2.ClientHttp2Session | undefined;
  private fail: ((o: ProbeOutcome) => void) | undefined;

  constructor(private readonly address: string, private readonly port: number, private readonly cfg: HealthCheckConfig, private readonly authority: string, private readonly transport: UpstreamTransport) {}

  check(timeoutMs: number): Promise<ProbeOutcome> {
    const g = this.cfg.grpc!;
    return new Promise((resolve) => {
      let done = false;
      const finish = (o: ProbeOutcome): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.fail = undefined;
        if (o.ok === false && o.type !== 'active') this.close();
        else if (!this.cfg.reuseConnection) this.close();
        resolve(o);
      };
      const timer = setTimeout(() => finish(TIMEOUT), timeoutMs);
      this.fail = finish;
      let s = this.session;
      if (!s || s.closed || s.destroyed) {
        const h = this.address.includes(':') ? `[${this.address}]` : this.address;
        const t = this.transport;
        s = this.session = http2.connect(`${t.secure ? 'https' : 'http'}://${h}:${this.port}`, {
          createConnection: () => t.connect(this.address, this.port, { alpn: t.secure && t.alpn.length === 0 ? ['h2'] : undefined }),
        });
        s.on('error', (e) => this.fail?.(NETWORK(e.message)));
        s.unref();
      }
      const req = s.request({
        ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', ':authority': g.authority ?? this.authority,
        'content-type': 'application/grpc', te: 'trailers', 'user-agent': 'Envoy/HC',
      });
      const chunks: Buffer[] = [];
      let trailers: http2.IncomingHttpHeaders | undefined;
      let headers: http2.IncomingHttpHeaders | undefined;
      req.on('response', (h) => (headers = h));
      req.on('trailers', (t) => (trailers = t));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = Number(trailers?.['grpc-status'] ?? headers?.['grpc-status'] ?? -1);
        if (Number(headers?.[':status']) !== 200) return finish(ACTIVE(false, `http status ${headers?.[':status']}`));
        if (status !== 0) return finish(ACTIVE(false, `grpc-status ${status}`));
        const serving = grpcServingStatus(Buffer.concat(chunks));
        finish(serving === 1 ? { ok: true } : ACTIVE(false, `serving status ${serving}`));
      });
      req.on('error', (e) => finish(NETWORK(e.message)));
      req.end(grpcRequest(g.serviceName));
    });
  }

  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }
}

export function createProbe(address: string, port: number, cfg: HealthCheckConfig, authority: string, transport: UpstreamTransport): Probe {
  const p = cfg.altPort > 0 ? cfg.altPort : port;
  if (cfg.kind === 'http') return new HttpProbe(address, p, cfg, cfg.http!.host ?? authority, transport);
  if (cfg.kind === 'grpc') {
    // Envoy sends the cluster name as :authority; nghttp2 here refuses characters such as `|`
    // (Istio cluster names), so such names fall back to the host's address.
    const hostPort = address.includes(':') ? `[${address}]:${p}` : `${address}:${p}`;
    return new GrpcProbe(address, p, cfg, /^[A-Za-z0-9._~:\-[\]]+$/.test(authority) ? authority : hostPort, transport);
  }
  return new TcpProbe(address, p, cfg, transport);
}
