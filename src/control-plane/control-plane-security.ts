/**
 * The control plane's security side (Citadel's role in istiod), wired as one object: the CA, the
 * workload-token issuer, the authenticator chain, the TLS gRPC port (certificate service + ADS),
 * and the registration binding of ADS streams to the identity their credential proves.
 */
import * as grpc from '@grpc/grpc-js';
import type { MeshConfig } from '../config/index.js';
import type { AdsServer, StreamCaller, StreamCredentials, StreamRefusal, XdsStreamInfo } from '../xds-server/index.js';
import { parseNode, type ProxyIdentity } from '../xds/node-metadata.js';
import { AuthenticatorChain, type Authenticator, type Caller } from '../security/auth/authenticator.js';
import { WorkloadTokenAuthenticator } from '../security/auth/auth-workload-token.js';
import { checkTokenRequest, WorkloadTokens, type MintedToken } from '../security/auth/workload-tokens.js';
import { CertificateAuthority, servingNames } from '../security/ca/certificate-authority.js';
import type { KeyAlgorithm } from '../security/ca/ca-keys.js';
import { createCertificateHandler } from '../security/cert-service/istio-ca-service.js';
import { startSecureServer, type SecureServer } from '../security/cert-service/secure-server.js';
import { ServingCertProvider } from '../security/cert-service/serving-cert-provider.js';
import { DEFAULT_TRUST_DOMAIN } from '../security/spiffe.js';
import type { ControlPlaneMetrics } from './metrics.js';

export interface SecurityOptions {
  configDir: string;
  /** Istio cacerts files (plug-in CA); default: the self-signed root under the config dir */
  caDir?: string;
  /** `--workload-cert-ttl`: lifetime for CSRs that ask for none (default 24h) */
  workloadCertTtlSeconds?: number;
  /** key type of the control plane's own serving certificate */
  keyAlgorithm?: KeyAlgorithm;
  /** tried after the workload-token authenticator (the chain's plug-ins: Kubernetes TokenReview) */
  authenticators?: Authenticator[];
}

export class ControlPlaneSecurity {
  ca!: CertificateAuthority;
  tokens!: WorkloadTokens;
  authenticator!: AuthenticatorChain;
  securePort = 0;
  private server: SecureServer | undefined;
  private provider: ServingCertProvider | undefined;

  constructor(
    private readonly options: SecurityOptions,
    private readonly deps: {
      meshConfig: () => MeshConfig;
      metrics: ControlPlaneMetrics;
      log: (line: string) => void;
    },
  ) {}

  trustDomain(): string {
    return this.deps.meshConfig().trustDomain || DEFAULT_TRUST_DOMAIN;
  }

  /**
   * Opens (or on first start creates) the CA and the token key, publishes the root for clients and
   * issues the TLS port's certificate: all the slow work (key generation) before any port opens.
   */
  async open(listenAddress: string): Promise<void> {
    this.ca = await CertificateAuthority.open({
      configDir: this.options.configDir,
      caDir: this.options.caDir,
      trustDomain: this.trustDomain(),
      workloadCertTtlSeconds: this.options.workloadCertTtlSeconds,
      keyAlgorithm: this.options.keyAlgorithm,
      log: this.deps.log,
    });
    this.tokens = WorkloadTokens.open(this.options.configDir);
    this.authenticator = new AuthenticatorChain([new WorkloadTokenAuthenticator(this.tokens), ...(this.options.authenticators ?? [])]);
    const file = this.ca.publishRoot();
    this.deps.log(`CA: root certificate for clients in ${file}`);
    const root = this.ca.signer.root;
    this.deps.metrics.gauge('citadel_server_root_cert_expiry_timestamp', 'Unix time (s) the root certificate expires.', () => Math.floor(Date.parse(root.validTo) / 1000));
    const signer = this.ca.signer.cert;
    this.deps.metrics.gauge('citadel_server_cert_chain_expiry_timestamp', 'Unix time (s) the signing certificate expires.', () => Math.floor(Date.parse(signer.validTo) / 1000));
    this.provider = new ServingCertProvider(this.ca, servingNames(listenAddress), this.deps.log);
    await this.provider.start();
  }

  /** The TLS gRPC port: IstioCertificateService and ADS (istiod's 15012). */
  async listen(host: string, port: number, ads: AdsServer): Promise<number> {
    if (!this.provider) throw new Error('security: open() before listen()');
    const metrics = this.deps.metrics;
    this.server = await startSecureServer({
      host,
      port,
      ads,
      provider: this.provider,
      createCertificate: createCertificateHandler({
        ca: this.ca,
        authenticator: this.authenticator,
        trustDomain: () => this.trustDomain(),
        log: this.deps.log,
        onResult: (result) => metrics.caResult(result),
      }),
    });
    this.securePort = this.server.port;
    return this.securePort;
  }

  /** ADS `authenticate` hook: who opened the stream (undefined = anonymous). */
  async authenticateStream(c: StreamCredentials): Promise<StreamCaller | undefined> {
    try {
      const caller = await this.authenticator.authenticate({
        authorization: c.metadata.authorization,
        clusterId: c.metadata.clusterid,
        peerCertificate: c.peerCertificate,
      });
      return caller ? { ...caller } : undefined;
    } catch (err) {
      this.deps.metrics.caResult('unauthenticated');
      throw { code: grpc.status.UNAUTHENTICATED, message: (err as Error).message } satisfies StreamRefusal;
    }
  }

  /**
   * ADS `admit` hook: a stream whose credential proves an identity may only claim that identity
   * (namespace, service account, pod name, and the addresses and labels the credential binds).
   */
  admitStream(s: XdsStreamInfo): StreamRefusal | undefined {
    const caller = s.caller as Caller | undefined;
    if (!caller || !s.node) return undefined;
    const why = bindingViolation(caller, s);
    if (!why) return undefined;
    return { code: grpc.status.PERMISSION_DENIED, message: `credential for ${caller.namespace}/${caller.serviceAccount}${caller.podName ? ` (pod ${caller.podName})` : ''} cannot register node ${s.node.id}: ${why}` };
  }

  /**
   * What a stream is served as. A client with a credential is what its node says (admitStream has
   * checked the node against the credential). A client without one gets a proxyless gRPC
   * client's view: the outbound configuration of its namespace (listeners, routes, clusters and
   * endpoints of the services it may call) and nothing bound to a workload: no inbound listeners,
   * no gateway listeners, no workload-selected policy (labels dropped), no secrets.
   */
  viewOf(s: XdsStreamInfo, id: ProxyIdentity): ProxyIdentity {
    return s.caller ? id : anonymousView(id);
  }

  /** POST /apis/v1/workload-tokens (the caller checked the admin token). */
  async mintToken(body: unknown): Promise<MintedToken> {
    const req = checkTokenRequest(body);
    const minted = await this.tokens.mint(req);
    this.deps.log(`workload token minted for ${req.namespace}/${req.serviceAccount} pod ${req.podName}${req.addresses ? ` (${req.addresses.join(', ')})` : ''}`);
    return minted;
  }

  async close(): Promise<void> {
    this.provider?.stop();
    await this.server?.close();
  }
}

/** Why the node a stream claims is not the identity its credential proves (undefined: it is). */
export function bindingViolation(caller: Caller, s: XdsStreamInfo): string | undefined {
  const id = parseNode(s.node!);
  if (id.namespace !== caller.namespace) return `namespace ${id.namespace} is not ${caller.namespace}`;
  if (id.serviceAccount !== caller.serviceAccount) return `service account ${id.serviceAccount} is not ${caller.serviceAccount}`;
  if (caller.podName !== undefined && id.name !== caller.podName) return `pod name ${id.name} is not ${caller.podName}`;
  const claimed = String(s.node!.metadata?.INSTANCE_IPS ?? id.address).split(',').map((a) => a.trim()).filter(Boolean);
  if (claimed.length > 0) {
    if (!caller.addresses) return `the credential binds no address, and the node claims ${claimed.join(', ')}`;
    const extra = claimed.filter((a) => !caller.addresses!.includes(a));
    if (extra.length) return `address ${extra.join(', ')} is not one of ${caller.addresses.join(', ')}`;
  }
  if (caller.labels) {
    const a = JSON.stringify(Object.entries(id.labels).sort());
    const b = JSON.stringify(Object.entries(caller.labels).sort());
    if (a !== b) return `labels ${formatLabels(id.labels)} are not ${formatLabels(caller.labels)}`;
  }
  return undefined;
}

function formatLabels(l: Record<string, string>): string {
  return `{${Object.entries(l).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

/** The identity an anonymous client is served as (see viewOf). */
export function anonymousView(id: ProxyIdentity): ProxyIdentity {
  return {
    type: 'sidecar',
    name: id.name,
    namespace: id.namespace,
    address: '',
    labels: {},
    serviceAccount: 'default',
    interceptionMode: id.interceptionMode,
    podPorts: [],
    appPorts: {},
    locality: id.locality,
    anonymous: true,
  };
}
