/**
 * Two Clew sidecars with mutual TLS between them, certificates from a real control plane's CA:
 *
 *   load → client sidecar (listener `outbound`) ══mTLS══▶ server sidecar (listener `inbound`, STRICT) → upstream
 *
 * - `startMeshCa` runs `clew control-plane` (self-signed CA, or a plug-in CA with `caDir`) with
 *   `--workload-cert-ttl`; its TLS port (15012's role) serves CreateCertificate. Workload tokens are
 *   minted with the control plane's own token key (`<config-dir>/.clew/secrets`, same user), which
 *   is what its token endpoint does.
 * - `startMeshPair` starts the two `clew proxy` processes. Their listeners and clusters come from a
 *   fixed ADS server (static-ads.ts): the control plane's CDS/LDS builders do not emit TLS yet, so
 *   the mesh is written here in Istio's shape. With `tls`, the client's cluster selects Istio mTLS
 *   by endpoint metadata (`tlsMode: istio`, transport_socket_matches), with SNI
 *   `outbound_.8000_._.<fqdn>`, ALPN istio-http/1.1 and a SAN check for the server's SPIFFE id; the
 *   server's listener has only a TLS chain (STRICT) that requires a client certificate and sets
 *   X-Forwarded-Client-Cert. Both name the SDS secrets `default` and `ROOTCA` from sds-grpc, which
 *   each proxy serves from its own agent: key + CSR to the CA with the token, rotation at half the
 *   lifetime. Without `tls` the same mesh runs in plaintext (the comparison path).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { PROXY_NODE_FLAGS } from '../src/cli/proxy-heap.js';
import { WorkloadTokens } from '../src/security/auth/workload-tokens.js';
import type { EnvoyResource } from '../src/xds/codec.js';
import { jsonToStruct } from '../src/xds/struct.js';
import { HCM_TYPE, ROUTER_TYPE } from '../src/xds/type-urls.js';
import { spawnPinned, type Pinned } from './bench-proc.js';
import { freePortOn, repoRoot, sleep, waitForHttp } from './bench-util.js';
import { StaticAds } from './static-ads.js';

const UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };
/** Istio's SDS config source: the agent's socket, served by the proxy's own secret manager */
const AGENT_SDS = { api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }], transport_api_version: 'V3' } };
export const MESH_NAMESPACE = 'default';
export const MESH_HOST = 'bench-mesh.default.svc.cluster.local';
export const CLIENT_SA = 'bench-client';
export const SERVER_SA = 'bench-server';
export const OUTBOUND_CLUSTER = `outbound|8000||${MESH_HOST}`;

export function spiffeId(sa: string, trustDomain = 'cluster.local'): string {
  return `spiffe://${trustDomain}/ns/${MESH_NAMESPACE}/sa/${sa}`;
}

export interface MeshCa {
  proc: Pinned;
  configDir: string;
  /** <config-dir>/.clew/root-cert.pem */
  rootCertFile: string;
  /** host:port of the TLS port (CreateCertificate) */
  secureAddress: string;
  debugUrl: string;
  /** a workload token for `sa` (pod `pod`, address `address`) written to a 0600 file in `dir` */
  tokenFile(dir: string, sa: string, pod: string, address: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Processes started here run in their own process groups (spawnPinned): if the caller dies without
 * stopping them (an uncaught error in a test or a benchmark), its exit still ends them.
 */
const live = new Set<Pinned>();
let exitHook = false;
function track(p: Pinned): Pinned {
  live.add(p);
  void p.exited.then(() => live.delete(p));
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const q of live) {
        try {
          process.kill(-q.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
  }
  return p;
}

async function freePorts(host: string, n: number, avoid: number[] = []): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePortOn(host);
    if (!out.includes(p) && !avoid.includes(p)) out.push(p);
  }
  return out;
}

/** `clew control-plane` as the mesh's CA. */
export async function startMeshCa(opts: { workDir: string; certTtl?: string; caDir?: string; cpu?: number; node?: string }): Promise<MeshCa> {
  const configDir = path.join(opts.workDir, 'ca-config');
  fs.mkdirSync(configDir, { recursive: true });
  const [xds, secure, debug] = await freePorts('127.0.0.1', 3);
  const args = [
    path.join(repoRoot(), 'bin', 'clew.js'), 'control-plane', '--config-dir', configDir,
    '--xds-port', String(xds), '--secure-xds-port', String(secure), '--debug-port', String(debug),
    ...(opts.certTtl ? ['--workload-cert-ttl', opts.certTtl] : []),
    ...(opts.caDir ? ['--ca-dir', opts.caDir] : []),
  ];
  const proc = track(spawnPinned('clew-control-plane', opts.cpu, opts.node ?? process.execPath, args, path.join(opts.workDir, 'clew-control-plane.log')));
  try {
    await waitForHttp(`http://127.0.0.1:${debug}/ready`, 60_000);
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}: ${tail(path.join(opts.workDir, 'clew-control-plane.log'))}`);
  }
  let tokens: WorkloadTokens | undefined;
  return {
    proc,
    configDir,
    rootCertFile: path.join(configDir, '.clew', 'root-cert.pem'),
    secureAddress: `127.0.0.1:${secure}`,
    debugUrl: `http://127.0.0.1:${debug}`,
    async tokenFile(dir, sa, pod, address) {
      tokens ??= WorkloadTokens.open(configDir);
      const { token } = await tokens.mint({ namespace: MESH_NAMESPACE, serviceAccount: sa, podName: pod, addresses: [address] });
      const file = path.join(dir, `${pod}.token`);
      fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
      return file;
    },
    stop: () => proc.stop(),
  };
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

const router = { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } };

function hcm(name: string, extra: EnvoyResource = {}): EnvoyResource {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: { '@type': HCM_TYPE, stat_prefix: name, rds: { config_source: { ads: {} }, route_config_name: name }, http_filters: [router], ...extra },
  };
}

function routeTo(name: string, cluster: string): EnvoyResource {
  return { name, virtual_hosts: [{ name, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster, timeout: { seconds: 10 } } }] }], validate_clusters: { value: false } };
}

function address(host: string, port: number): EnvoyResource {
  return { socket_address: { address: host, port_value: port } };
}

/** The agent's certificate and trust bundle, with a SAN check against `peerSa`. */
function commonTls(alpn: string[], peerSa: string): EnvoyResource {
  return {
    alpn_protocols: alpn,
    tls_params: { tls_minimum_protocol_version: 'TLSv1_2', tls_maximum_protocol_version: 'TLSv1_3' },
    tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: AGENT_SDS }],
    combined_validation_context: {
      default_validation_context: { match_subject_alt_names: [{ exact: spiffeId(peerSa) }] },
      validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: AGENT_SDS },
    },
  };
}

/** The client sidecar: listener `outbound` → cluster outbound|8000||bench-mesh → the server sidecar. */
export function clientResources(o: { tls: boolean; address: string; port: number; server: { address: string; port: number }; maxRequestsPerConnection?: number }) {
  const endpoint: EnvoyResource = { endpoint: { address: address(o.server.address, o.server.port) } };
  if (o.tls) endpoint.metadata = { filter_metadata: { 'envoy.transport_socket_match': jsonToStruct({ tlsMode: 'istio' }) } };
  const cluster: EnvoyResource = {
    name: OUTBOUND_CLUSTER,
    type: 'STATIC',
    connect_timeout: { seconds: 5 },
    load_assignment: { cluster_name: OUTBOUND_CLUSTER, endpoints: [{ lb_endpoints: [endpoint] }] },
    ...(o.maxRequestsPerConnection ? { max_requests_per_connection: { value: o.maxRequestsPerConnection } } : {}),
  };
  if (o.tls) {
    cluster.transport_socket_matches = [
      {
        name: 'tlsMode-istio',
        match: { tlsMode: 'istio' },
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: { '@type': UPSTREAM_TLS, sni: `outbound_.8000_._.${MESH_HOST}`, common_tls_context: commonTls(['istio-http/1.1'], SERVER_SA) },
        },
      },
      { name: 'tlsMode-disabled', match: {}, transport_socket: { name: 'envoy.transport_sockets.raw_buffer', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer' } } },
    ];
  }
  return {
    listeners: [{ name: 'outbound', address: address(o.address, o.port), traffic_direction: 'OUTBOUND', filter_chains: [{ filters: [hcm('outbound')] }] }],
    routes: [routeTo('outbound', OUTBOUND_CLUSTER)],
    clusters: [cluster],
  };
}

/** The server sidecar: listener `inbound` (STRICT with tls) → inbound|8080|| → the upstream. */
export function serverResources(o: { tls: boolean; address: string; port: number; upstreamPort: number }) {
  const cluster = 'inbound|8080||';
  const chain: EnvoyResource = { name: 'inbound-http', filters: [hcm('inbound', o.tls ? { forward_client_cert_details: 'SANITIZE_SET', set_current_client_cert_details: { subject: { value: true }, uri: true, dns: true } } : {})] };
  if (o.tls) {
    chain.filter_chain_match = { transport_protocol: 'tls' };
    chain.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': DOWNSTREAM_TLS, require_client_certificate: { value: true }, common_tls_context: commonTls(['istio-http/1.1', 'h2', 'http/1.1'], CLIENT_SA) },
    };
  }
  return {
    listeners: [{ name: 'inbound', address: address(o.address, o.port), traffic_direction: 'INBOUND', ...(o.tls ? { listener_filters: [TLS_INSPECTOR] } : {}), filter_chains: [chain] }],
    routes: [routeTo('inbound', cluster)],
    clusters: [{ name: cluster, type: 'STATIC', connect_timeout: { seconds: 5 }, load_assignment: { cluster_name: cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: address('127.0.0.1', o.upstreamPort) } }] }] } }],
  };
}

export interface MeshSidecar {
  proc: Pinned;
  address: string;
  adminUrl: string;
  ads: StaticAds;
}

export interface MeshPair {
  client: MeshSidecar;
  server: MeshSidecar;
  /** the client sidecar's `outbound` listener (any Host header) */
  outboundUrl: string;
  /** the server sidecar's `inbound` listener: host and port */
  inbound: { host: string; port: number };
  stop(): Promise<void>;
}

export interface MeshPairOptions {
  workDir: string;
  upstreamPort: number;
  tls: boolean;
  /** needed with tls: the CA the sidecars get their certificates from */
  ca?: MeshCa;
  /** the sidecars' --workload-cert-ttl (what their CSRs ask for) */
  certTtl?: string;
  keyAlgorithm?: 'rsa' | 'ecdsa';
  maxRequestsPerConnection?: number;
  proxyCpu?: number;
  node?: string;
  logLevel?: string;
  /** node flags for both sidecars (e.g. --cpu-prof) */
  nodeArgs?: string[];
  /** 127.0.<net>.1 / .2 (default: random 100-199) */
  net?: number;
  /** a command prefix for one sidecar (e.g. valgrind --tool=callgrind ...): its pid is then the wrapper's */
  wrap?: { side: 'client' | 'server'; command: string[] };
  /** how long a sidecar may take to become ready (default 60 s; raise it under valgrind) */
  readyTimeoutMs?: number;
}

/** Starts the server sidecar, then the client sidecar; resolves when a request goes through. */
export async function startMeshPair(o: MeshPairOptions): Promise<MeshPair> {
  if (o.tls && !o.ca) throw new Error('startMeshPair: tls needs a CA');
  const net = o.net ?? 100 + Math.floor(Math.random() * 100);
  const tag = o.tls ? 'mtls' : 'plain';
  const dir = path.join(o.workDir, tag);
  fs.mkdirSync(dir, { recursive: true });
  const started: Array<{ stop(): Promise<void> | void }> = [];
  const stop = async (): Promise<void> => {
    for (const s of started.reverse()) await s.stop();
  };
  try {
    const clientAddr = `127.0.${net}.1`;
    const serverAddr = `127.0.${net}.2`;
    const [sIn, sAdmin, sStats, sReady] = await freePorts(serverAddr, 4);
    const [cOut, cAdmin, cStats, cReady] = await freePorts(clientAddr, 4);
    const sidecar = async (name: string, sa: string, addr: string, ports: number[], resources: ConstructorParameters<typeof StaticAds>[0]): Promise<MeshSidecar> => {
      const ads = new StaticAds(resources);
      const xds = await ads.start();
      started.push(ads);
      const identity = o.tls
        ? ['--root-cert', o.ca!.rootCertFile, '--ca-address', o.ca!.secureAddress, '--token-file', await o.ca!.tokenFile(dir, sa, name, addr),
           '--service-account', sa, '--key-algorithm', o.keyAlgorithm ?? 'rsa', ...(o.certTtl ? ['--workload-cert-ttl', o.certTtl] : [])]
        : [];
      const wrapped = o.wrap !== undefined && name.endsWith(`-${o.wrap.side}`) ? o.wrap.command : [];
      const nodeBin = o.node ?? process.execPath;
      const proc = track(spawnPinned(`clew-${name}`, o.proxyCpu, wrapped[0] ?? nodeBin, [
        ...(wrapped.length ? [...wrapped.slice(1), nodeBin] : []),
        ...PROXY_NODE_FLAGS,
        ...(o.nodeArgs ?? []),
        path.join(repoRoot(), 'bin', 'clew.js'), 'proxy', '--xds-address', xds, '--id', `${name}.${MESH_NAMESPACE}`, '--address', addr,
        '--interception-mode', 'NONE', '--outbound-port', String(await freePortOn(addr)), '--inbound-port', String(await freePortOn(addr)),
        '--admin-port', String(ports[0]), '--stats-port', String(ports[1]), '--ready-port', String(ports[2]),
        '--log-level', o.logLevel ?? 'warn', ...identity,
      ], path.join(dir, `${name}.log`)));
      started.push(proc);
      try {
        await waitForHttp(`http://${addr}:${ports[2]}/healthz/ready`, o.readyTimeoutMs ?? 60_000);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}; NACKs: ${ads.nacks.join('; ') || 'none'}; log: ${tail(path.join(dir, `${name}.log`))}`);
      }
      return { proc, address: addr, adminUrl: `http://${addr}:${ports[0]}`, ads };
    };
    const server = await sidecar(`${tag}-server`, SERVER_SA, serverAddr, [sAdmin, sStats, sReady], serverResources({ tls: o.tls, address: serverAddr, port: sIn, upstreamPort: o.upstreamPort }));
    const client = await sidecar(`${tag}-client`, CLIENT_SA, clientAddr, [cAdmin, cStats, cReady], clientResources({ tls: o.tls, address: clientAddr, port: cOut, server: { address: serverAddr, port: sIn }, maxRequestsPerConnection: o.maxRequestsPerConnection }));
    const outboundUrl = `http://${clientAddr}:${cOut}/`;
    let last = '';
    const end = Date.now() + Math.max(30_000, o.readyTimeoutMs ?? 0);
    for (;;) {
      try {
        const r = await request(outboundUrl, { headers: { host: 'bench-mesh:8000' } });
        await r.body.dump();
        if (r.statusCode === 200) break;
        last = `HTTP ${r.statusCode}`;
      } catch (err) {
        last = String(err);
      }
      if (Date.now() > end) throw new Error(`no request through the ${tag} mesh within 30 s (${last}); NACKs: ${[...client.ads.nacks, ...server.ads.nacks].join('; ') || 'none'}`);
      await sleep(100);
    }
    return { client, server, outboundUrl, inbound: { host: serverAddr, port: sIn }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A counter from the proxy's admin /stats (0 when absent). */
export async function adminCounter(adminUrl: string, name: string): Promise<number> {
  const r = await request(`${adminUrl}/stats`);
  const text = await r.body.text();
  for (const line of text.split('\n')) {
    const i = line.lastIndexOf(': ');
    if (i > 0 && line.slice(0, i) === name) return Number(line.slice(i + 2));
  }
  return 0;
}

/** The workload certificate serial (SDS `default`) a proxy holds, from its admin /config_dump. */
export async function workloadSerial(adminUrl: string): Promise<string | undefined> {
  const { fetchSecretsDump, secretRows } = await import('../src/cli/proxy-config-secret.js');
  const rows = secretRows(await fetchSecretsDump(adminUrl));
  return rows.find((r) => r[0] === 'default')?.[4] || undefined;
}
