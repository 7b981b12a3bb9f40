/**
 * The upstream side of an HTTP/1.1 Upgrade (WebSocket) the router sends: a dedicated connection
 * (never pooled) opened through the host's transport socket, the request head written once it is
 * up, the response head parsed by llhttp. An Upgrade request is a request like any other before
 * this point: it went through the HCM's filters (fault, CORS, ...) and the router's route, host
 * choice, circuit breaker, timeouts and retries.
 *
 * - Any answer but `101` is a plain HTTP response: headers, body and end go to the router's
 *   handler as from a pool (so filters see it and the codec frames it), then this connection
 *   closes; the downstream connection closes after it too (nothing after an Upgrade request is
 *   HTTP), so a backend that ignores `Upgrade` cannot turn it into an unrouted tunnel.
 * - `101`: the handler hears of it through onUpgrade, writes the 101 downstream and hands this
 *   exchange the downstream socket (`splice`): the bytes after both heads are exchanged first,
 *   then the two sockets are piped until either side closes.
 */
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { newParser, type LlhttpParser } from '../codec/llhttp.js';
import { decodeHeaders } from '../codec/codec-http1-client-head.js';
import type { UpstreamTransport } from '../core/transport-socket.js';
import { UpstreamError, type InHeaders, type OutHeaders, type UpstreamControl, type UpstreamHandler } from '../core/pool.js';

/** The router's handler of an upgrade attempt: a pool handler that also hears of a 101. */
export interface UpgradeHandler extends UpstreamHandler {
  /** the upstream switched protocols: answer downstream, then call `exchange.splice` */
  onUpgrade(headers: InHeaders, exchange: UpgradeExchange): void;
}

export interface UpgradeTarget {
  host: string;
  port: number;
  transport: UpstreamTransport;
  connectTimeoutMs: number;
  /** ALPN to offer instead of the transport's list (Istio's istio.alpn filter) */
  alpn?: readonly string[];
}

export interface UpgradeStats {
  upstream_cx_total: { inc(): void };
  upstream_cx_connect_fail: { inc(): void };
  upstream_cx_connect_timeout: { inc(): void };
}

const MAX_RESPONSE_HEAD = 96 * 1024;
const MAX_TIMER_MS = 2_147_483_647;
/** after one side of a tunnel ends, the other gets this long to finish before it is closed */
const LINGER_MS = 2000;

/** `GET /path HTTP/1.1` + the headers + the upgrade pair, as the upstream receives it. */
export function upgradeRequestHead(method: string, path: string, authority: string, headers: OutHeaders, upgrade: string): string {
  let s = `${method} ${path} HTTP/1.1\r\n`;
  let hasHost = false;
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || k.charCodeAt(0) === 58 || k === 'connection' || k === 'upgrade' || k === 'content-length' || k === 'transfer-encoding') continue;
    if (k === 'host') hasHost = true;
    if (typeof v === 'string') s += `${k}: ${v}\r\n`;
    else for (let i = 0; i < v.length; i++) s += `${k}: ${v[i]}\r\n`;
  }
  if (!hasHost) s += `host: ${authority}\r\n`;
  return `${s}connection: upgrade\r\nupgrade: ${upgrade}\r\n\r\n`;
}

type State = 'connecting' | 'head' | 'response' | 'switched' | 'tunnel' | 'done';

export class UpgradeExchange implements UpstreamControl {
  private state: State = 'connecting';
  private readonly socket: net.Socket;
  private readonly parser: LlhttpParser;
  private readonly connectTimer: NodeJS.Timeout;
  private status = 0;
  /** upstream bytes after the 101 head, for the client */
  private rest: Buffer | undefined;
  private readPaused = false;
  private downstream: Duplex | undefined;
  private onTunnelEnd: (() => void) | undefined;

  constructor(
    target: UpgradeTarget,
    private readonly headText: string,
    private readonly isHead: boolean,
    private readonly handler: UpgradeHandler,
    private readonly stats: UpgradeStats,
  ) {
    this.parser = newParser('response', MAX_RESPONSE_HEAD, {
      onHeadersComplete: (_maj, _min, raw, _m, _u, status) => this.onHeadersComplete(raw ?? [], status ?? 0),
      onBody: (chunk) => this.onBody(chunk),
      onMessageComplete: () => this.onMessageComplete(),
      onHeaders: (raw) => this.pendingRaw.push(...raw),
    });
    const s = (this.socket = target.transport.connect(target.host, target.port, target.alpn === undefined ? {} : { alpn: target.alpn }));
    this.connectTimer = setTimeout(() => {
      if (this.state !== 'connecting') return;
      stats.upstream_cx_connect_timeout.inc();
      stats.upstream_cx_connect_fail.inc();
      this.fail(new UpstreamError('connect', 'upstream connect timeout'));
    }, Math.min(target.connectTimeoutMs, MAX_TIMER_MS));
    s.once(target.transport.readyEvent, () => {
      clearTimeout(this.connectTimer);
      if (this.state !== 'connecting') return;
      this.state = 'head';
      stats.upstream_cx_total.inc();
      const info = target.transport.connectionInfo(s);
      if (info !== undefined) handler.onConnectionInfo?.(info);
      s.write(this.headText, 'latin1');
    });
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('error', (err: Error) => {
      if (this.state === 'connecting') {
        stats.upstream_cx_connect_fail.inc();
        this.fail(new UpstreamError('connect', target.transport.failureReason(s) ?? err.message));
      } else if (this.state === 'head' || this.state === 'response') this.fail(new UpstreamError('reset', `upstream connection error: ${err.message}`));
    });
    s.once('close', () => {
      clearTimeout(this.connectTimer);
      this.parser.free();
      if (this.state === 'connecting') this.fail(new UpstreamError('connect', 'connection closed before connect'));
      else if (this.state === 'head' || this.state === 'response') this.fail(new UpstreamError('reset', 'upstream connection closed before the response completed'));
      else if (this.state === 'tunnel') this.endTunnel();
    });
  }

  private pendingRaw: string[] = [];

  private readonly onData = (chunk: Buffer): void => {
    if (this.state !== 'head' && this.state !== 'response') return;
    const n = this.parser.execute(chunk);
    if (typeof n !== 'number') {
      this.fail(new UpstreamError('protocol', `malformed upstream response to an upgrade (${n.code})`));
      return;
    }
    // a 101 ended the head (onHeadersComplete): what follows in this read is the tunnel's
    if ((this.state as State) === 'switched') {
      if (n < chunk.length) this.rest = Buffer.from(chunk.subarray(n));
      this.switched();
    }
  };

  private readonly onEnd = (): void => {
    if (this.state === 'response') {
      // an EOF-delimited body ends here
      const r = this.parser.finish();
      if (r !== undefined && this.state === 'response') this.fail(new UpstreamError('reset', `upstream closed mid-response (${r.code})`));
    }
  };

  private onHeadersComplete(raw: string[], status: number): number {
    const fields = this.pendingRaw.length > 0 ? this.pendingRaw.concat(raw) : raw;
    this.pendingRaw = [];
    if (status === 101) {
      this.status = 101;
      this.state = 'switched';
      this.headers = decodeHeaders(fields, {});
      return 2;
    }
    // other interim answers (100 Continue, 103) are not relayed: the final answer follows
    if (status < 200) return 0;
    this.status = status;
    this.state = 'response';
    const headers = decodeHeaders(fields, {});
    const cl = headers['content-length'];
    const endStream = this.isHead || status === 204 || status === 304 || cl === '0';
    this.handler.onHeaders(status, headers, endStream);
    return this.isHead ? 1 : 0;
  }

  private headers: InHeaders | undefined;

  private onBody(chunk: Buffer): void {
    if (this.state !== 'response') return;
    if (!this.handler.onData(chunk) && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private onMessageComplete(): void {
    if (this.state !== 'response' || this.status < 200) return;
    this.state = 'done';
    this.handler.onEnd(undefined);
    // the connection was opened for this upgrade: it carries nothing else
    this.socket.destroy();
  }

  /** The 101 head is in: reading pauses until the downstream side is spliced in. */
  private switched(): void {
    this.state = 'tunnel';
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.handler.onUpgrade(this.headers ?? {}, this);
  }

  /**
   * Joins the downstream socket (its 101 already written) to this connection: the bytes each side
   * sent after its head first, then both directions piped; `onEnd` runs once, when the tunnel is over.
   */
  splice(down: Duplex, downHead: Buffer, onEnd: () => void): void {
    if (this.state !== 'tunnel' || this.socket.destroyed) {
      down.destroy();
      onEnd();
      return;
    }
    this.downstream = down;
    this.onTunnelEnd = onEnd;
    const up = this.socket;
    if (this.rest !== undefined && this.rest.length > 0) down.write(this.rest);
    this.rest = undefined;
    if (downHead.length > 0) up.write(downHead);
    down.on('error', () => up.destroy());
    down.once('close', () => {
      up.end();
      const t = setTimeout(() => up.destroy(), LINGER_MS);
      t.unref();
      this.endTunnel();
    });
    up.once('close', () => {
      down.end();
      const t = setTimeout(() => down.destroy(), LINGER_MS);
      t.unref();
    });
    up.pipe(down);
    down.pipe(up);
    up.resume();
    down.resume();
  }

  private endTunnel(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    const fn = this.onTunnelEnd;
    this.onTunnelEnd = undefined;
    fn?.();
  }

  private fail(err: UpstreamError): void {
    if (this.state === 'done' || this.state === 'tunnel' || this.state === 'switched') return;
    this.state = 'done';
    clearTimeout(this.connectTimer);
    this.socket.destroy();
    this.handler.onError(err);
  }

  /** The router lets go (downstream gone, timeout): no more handler calls; both sides close. */
  abort(): void {
    const tunnel = this.state === 'tunnel';
    this.state = 'done';
    this.onTunnelEnd = undefined;
    clearTimeout(this.connectTimer);
    this.socket.destroy();
    if (tunnel) this.downstream?.destroy();
  }

  resume(): void {
    if (this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    }
  }
}
