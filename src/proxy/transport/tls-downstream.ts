/**
 * envoy.transport_sockets.tls on a listener's filter chain (DownstreamTlsContext): the accepted
 * socket (its first bytes already read by the TLS inspector and put back) is handed to a node
 * tls.Server that never listens, so node's own server-side handshake runs: certificate and key
 * from the context, client certificates requested when there is a validation context and
 * required with require_client_certificate, ALPN chosen from the chain's list. A presented client
 * certificate that does not verify, or fails the SAN matchers or pins, closes the connection.
 * After a secret changes the server's context is replaced for new handshakes only.
 */
import * as crypto from 'node:crypto';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import type { SecretProvider } from '../secret/secret-types.js';
import { parseSubjectAltName, spiffeUri, verifyPeerCertificate } from './peer-certificate.js';
import { TlsContext } from './tls-context.js';
import type { DownstreamTlsConfig } from './tls-config.js';
import type { TlsStats } from './tls-stats.js';
import type { DownstreamTlsInfo } from '../core/connection-context.js';

export type { DownstreamTlsInfo } from '../core/connection-context.js';


const ACCEPT = Symbol('clew.tlsAccept');

type Accepted = (socket: tls.TLSSocket, info: DownstreamTlsInfo) => void;
type RawSocket = net.Socket & { [ACCEPT]?: Accepted };

export class DownstreamTlsTransport {
  readonly context: TlsContext;
  private stats: TlsStats | undefined;
  /** one server offering the chain's ALPN, one offering none (a client whose ALPN list shares nothing with ours) */
  private servers: { alpn: tls.Server | undefined; plain: tls.Server | undefined; generation: number } = { alpn: undefined, plain: undefined, generation: -1 };

  constructor(readonly config: DownstreamTlsConfig, secrets: SecretProvider, onSecretChange?: () => void) {
    this.context = new TlsContext(config.common, secrets, { sessionTimeoutS: config.sessionTimeoutS, noTickets: config.noTickets }, onSecretChange);
  }

  /** The chain became active: its secrets are watched (and requested) from now on. */
  activate(stats: TlsStats | undefined): void {
    this.stats = stats;
    this.context.start();
  }

  notReady(): string | undefined {
    const m = this.context.missing();
    return m.length ? `waiting for secrets ${m.join(', ')}` : undefined;
  }

  /**
   * Runs the server handshake on an accepted socket. `clientAlpn`: the ClientHello's ALPN list
   * (TLS inspector), used to pick a server that will not refuse a client sharing no protocol
   * with us: Envoy then goes on without ALPN, where node would end the handshake.
   */
  accept(raw: net.Socket, clientAlpn: readonly string[] | undefined, onSecure: Accepted): void {
    const server = this.serverFor(clientAlpn);
    if (typeof server === 'string') {
      this.stats?.connection_error.inc();
      raw.destroy();
      return;
    }
    (raw as RawSocket)[ACCEPT] = onSecure;
    server.emit('connection', raw);
  }

  private serverFor(clientAlpn: readonly string[] | undefined): tls.Server | string {
    const opts = this.context.options();
    if (typeof opts === 'string') return opts;
    const s = this.servers;
    if (s.generation !== this.context.generation) {
      // a rotation: new handshakes get the new context, connections already made keep theirs
      s.generation = this.context.generation;
      s.alpn?.setSecureContext(opts);
      s.plain?.setSecureContext(opts);
    }
    const alpn = this.config.common.alpn;
    const withAlpn = alpn.length > 0 && (clientAlpn === undefined || clientAlpn.length === 0 || clientAlpn.some((p) => alpn.includes(p)));
    if (withAlpn) return (s.alpn ??= this.makeServer(opts, alpn));
    return (s.plain ??= this.makeServer(opts, undefined));
  }

  private makeServer(opts: tls.SecureContextOptions, alpn: string[] | undefined): tls.Server {
    const v = this.config.common.validation;
    const server = tls.createServer({
      ...opts,
      requestCert: !!v,
      rejectUnauthorized: this.config.requireClientCertificate,
      ALPNProtocols: alpn,
      handshakeTimeout: 15_000,
    });
    server.on('secureConnection', (s: tls.TLSSocket) => this.onSecure(s));
    server.on('tlsClientError', (err: Error & { code?: string }, s: tls.TLSSocket) => {
      const st = this.stats;
      if (st) {
        st.connection_error.inc();
        if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') st.no_certificate.inc();
        else if (/CERT|VERIFY/.test(err.code ?? '')) st.fail_verify_error.inc();
      }
      s.destroy();
    });
    server.on('error', () => undefined);
    return server;
  }

  private onSecure(s: tls.TLSSocket): void {
    const raw = (s as unknown as { _parent?: RawSocket })._parent;
    const cb = raw?.[ACCEPT];
    if (raw) raw[ACCEPT] = undefined;
    s.on('error', () => undefined);
    const st = this.stats;
    const peer = s.getPeerCertificate();
    const presented = !!peer && Object.keys(peer).length > 0;
    const v = this.config.common.validation;
    if (presented && v && !s.authorized) {
      // a certificate that does not verify is refused even where none is required (Envoy)
      st?.fail_verify_error.inc();
      s.destroy();
      return;
    }
    if (presented && v) {
      const bad = verifyPeerCertificate(v, peer);
      if (bad) {
        (bad.failure === 'san' ? st?.fail_verify_san : st?.fail_verify_cert_hash)?.inc();
        s.destroy();
        return;
      }
    }
    st?.handshake.inc();
    if (s.isSessionReused()) st?.session_reused.inc();
    if (!cb) {
      s.destroy();
      return;
    }
    const own = s.getCertificate() as tls.PeerCertificate | null;
    const sans = presented ? parseSubjectAltName(peer.subjectaltname) : [];
    const uris = sans.filter((e) => e.type === 'URI').map((e) => e.value);
    cb(s, {
      sni: (s as unknown as { servername?: string | false }).servername || '',
      alpn: typeof s.alpnProtocol === 'string' ? s.alpnProtocol : '',
      peerPrincipal: presented ? spiffeUri(peer) : undefined,
      peerUris: uris,
      peerCertHash: presented && peer.raw ? crypto.createHash('sha256').update(peer.raw).digest('hex') : undefined,
      peerSubject: presented ? subjectText(peer.subject) : '',
      peerDns: sans.filter((e) => e.type === 'DNS').map((e) => e.value),
      peerCertPem: presented && peer.raw ? toPem(peer.raw) : undefined,
      peerChainPem: presented ? chainPem(s) : undefined,
      localPrincipal: own ? spiffeUri(own) : undefined,
      version: s.getProtocol() ?? '',
    });
  }

  close(): void {
    this.context.close();
    this.servers = { alpn: undefined, plain: undefined, generation: -1 };
  }
}

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
}

/** The client's chain as presented (leaf first), PEM. */
function chainPem(s: tls.TLSSocket): string {
  let out = '';
  let c = s.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out += toPem(c.raw);
    c = c.issuerCertificate;
  }
  return out;
}

/** A certificate subject as RFC 2253-ish text (XFCC Subject=); Istio's certificates have none. */
function subjectText(subject: tls.Certificate | undefined): string {
  if (!subject) return '';
  return Object.entries(subject)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .reverse()
    .join(',');
}
