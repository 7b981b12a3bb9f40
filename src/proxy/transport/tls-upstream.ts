/**
 * envoy.transport_sockets.tls on the upstream side (UpstreamTlsContext): node:tls client
 * connections with the cluster's certificate, trust bundle, SNI, ALPN, TLS versions and ciphers;
 * the peer's chain verified against the trusted CA, then Envoy's SAN matchers and pins; TLS
 * sessions kept per host for resumption (max_session_keys). Stats as Envoy's
 * `cluster.<name>.ssl.*`.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { SecretProvider } from '../secret/secret-types.js';
import { spiffeUri, verifyPeerCertificate, PeerVerifyError } from './peer-certificate.js';
import { TlsContext } from './tls-context.js';
import type { UpstreamTlsConfig } from './tls-config.js';
import type { TlsStats } from './tls-stats.js';
import type { UpstreamConnectionInfo, UpstreamConnectOptions, UpstreamTransport } from '../core/transport-socket.js';
import { lookupFor } from './dns-lookup.js';
import { bindDirect, directConnectOptions } from '../codec/socket-direct.js';
import { overflowCounter } from '../../stats/stats-overflow.js';

const FAILURE = Symbol('clew.transportFailure');
const INFO = Symbol('clew.transportInfo');
/** TLS sessions kept per transport (one per upstream host); past it the oldest is dropped and counted */
const MAX_SESSIONS = 1024;
const SESSIONS_OVERFLOW = overflowCounter('tls_upstream_sessions');

type TaggedSocket = tls.TLSSocket & { [FAILURE]?: string; [INFO]?: UpstreamConnectionInfo };

/** Envoy's shape of %UPSTREAM_TRANSPORT_FAILURE_REASON% for TLS errors. */
export function tlsFailureReason(err: Error & { code?: string }): string {
  return `TLS_error:|${err.code ?? 'TLS_ERROR'}:${err.message}:TLS_error_end`;
}

/** A socket that fails on the next tick with `reason` (no connection can be made now). */
export function failedSocket(reason: string): net.Socket {
  const s = new net.Socket() as TaggedSocket;
  s[FAILURE] = reason;
  process.nextTick(() => s.destroy(Object.assign(new Error(reason), { code: 'CLEW_TRANSPORT_NOT_READY' })));
  return s;
}

export class TlsUpstreamTransport implements UpstreamTransport {
  readonly kind = 'tls';
  readonly secure = true;
  readonly readyEvent = 'secureConnect' as const;
  readonly context: TlsContext;
  readonly alpn: readonly string[];
  private readonly sessions = new Map<string, { generation: number; session: Buffer }>();
  private readonly checkIdentity: (host: string, cert: tls.PeerCertificate) => Error | undefined;

  constructor(
    readonly config: UpstreamTlsConfig,
    secrets: SecretProvider,
    private readonly stats: TlsStats | undefined,
    onSecretChange?: () => void,
  ) {
    this.alpn = config.common.alpn;
    this.context = new TlsContext(config.common, secrets, {}, () => {
      this.sessions.clear();
      onSecretChange?.();
    });
    this.context.start();
    const v = config.common.validation;
    // Envoy checks names only through the configured matchers (no hostname check of its own)
    this.checkIdentity = v ? (_host, cert) => verifyPeerCertificate(v, cert) : () => undefined;
  }

  connect(host: string, port: number, opts: UpstreamConnectOptions): net.Socket {
    const ctx = this.context.current();
    if (typeof ctx === 'string') {
      this.stats?.connection_error.inc();
      const failed = failedSocket(ctx);
      return opts.direct ? bindDirect(failed, directConnectOptions()) : failed;
    }
    const key = `${host}:${port}`;
    const kept = this.config.maxSessionKeys > 0 ? this.sessions.get(key) : undefined;
    const alpn = opts.alpn ?? this.config.common.alpn;
    // direct: cleartext reads land in the shared buffer (tls.connect takes net's `onread` when it
    // makes the socket itself), as raw_buffer's do, instead of going through 'data' events
    const direct = opts.direct ? directConnectOptions() : undefined;
    const s = tls.connect({
      ...direct,
      host,
      port,
      ...lookupFor(host),
      ...(opts.localAddress === undefined ? {} : { localAddress: opts.localAddress }),
      secureContext: ctx,
      // no SNI unless configured (Envoy's default); node would send the host name otherwise
      servername: this.config.sni ?? '',
      ALPNProtocols: alpn.length > 0 ? [...alpn] : undefined,
      rejectUnauthorized: this.context.verifiesPeer,
      checkServerIdentity: this.checkIdentity,
      session: kept && kept.generation === this.context.generation ? kept.session : undefined,
    }) as TaggedSocket;
    if (direct !== undefined) bindDirect(s, direct);
    s.setNoDelay(true);
    if (opts.keepaliveMs !== undefined) s.setKeepAlive(true, opts.keepaliveMs);
    if (this.config.maxSessionKeys > 0) {
      const generation = this.context.generation;
      s.on('session', (session: Buffer) => {
        if (this.sessions.size >= MAX_SESSIONS && !this.sessions.has(key)) {
          this.sessions.delete(this.sessions.keys().next().value as string);
          SESSIONS_OVERFLOW.inc();
        }
        this.sessions.set(key, { generation, session });
      });
    }
    s.once('secureConnect', () => {
      this.stats?.handshake.inc();
      if (s.isSessionReused()) this.stats?.session_reused.inc();
    });
    s.once('error', (err: Error & { code?: string }) => {
      if (s[FAILURE] !== undefined || s[INFO] !== undefined) return;
      s[FAILURE] = tlsFailureReason(err);
      const st = this.stats;
      if (!st) return;
      st.connection_error.inc();
      if (err instanceof PeerVerifyError) (err.failure === 'san' ? st.fail_verify_san : st.fail_verify_cert_hash).inc();
      else if (err.code && /CERT|VERIFY|SELF_SIGNED|ISSUER/.test(err.code)) st.fail_verify_error.inc();
    });
    return s;
  }

  failureReason(socket: net.Socket): string | undefined {
    return (socket as TaggedSocket)[FAILURE];
  }

  connectionInfo(socket: net.Socket): UpstreamConnectionInfo | undefined {
    const s = socket as TaggedSocket & tls.TLSSocket;
    if (s[INFO]) return s[INFO];
    if (typeof s.getPeerCertificate !== 'function') return undefined;
    const alpn = s.alpnProtocol;
    return (s[INFO] = { peerPrincipal: spiffeUri(s.getPeerCertificate()), alpn: typeof alpn === 'string' ? alpn : undefined });
  }

  notReady(): string | undefined {
    const m = this.context.missing();
    return m.length ? `waiting for secrets ${m.join(', ')}` : undefined;
  }

  close(): void {
    this.context.close();
    this.sessions.clear();
  }
}
