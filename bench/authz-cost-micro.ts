/**
 * The authorization filters alone, in process (issue 18, "Must show" 6): the HTTP filters the
 * control plane builds for bench/authz-cost-config.ts's 50 AuthorizationPolicies and
 * RequestAuthentication (buildAuthzFilters: jwt_authn, istio_authn, the DENY and ALLOW RBAC
 * filters), parsed by the proxy's own factories (the registry by type URL) and run through their
 * decodeHeaders entry points on a minimal stream, many times. CPU per request from
 * process.cpuUsage() (all threads: WebCrypto's work on the libuv pool counts), so the filters' cost
 * is seen without the noise of sockets, codecs and other processes.
 *
 *   node dist/bench/authz-cost-micro.js [--alg RS256|ES256] [--iterations 20000] [--rounds 5]
 *
 * Scenarios, interleaved per round: `base` (the stream object alone), `rbac` (the RBAC filters,
 * with request.auth.* already in the metadata), `jwt` (jwt_authn + istio_authn), `all` (the whole
 * chain, as the sidecar runs it). Figures are µs per request above `base`, medians over rounds.
 */
import { performance } from 'node:perf_hooks';
import { parseConfigText } from '../src/config/load-parse.js';
import { createPushContext } from '../src/control-plane/builders/index.js';
import { buildAuthzFilters } from '../src/control-plane/builders/build-authz.js';
import { createLocalRegistry } from '../src/registry/index.js';
import type { ConnectionContext } from '../src/proxy/core/connection-context.js';
import type { HeaderMap } from '../src/proxy/core/header-map.js';
import type { HttpFilterCallbacks, HttpFilterConfig } from '../src/proxy/filter-api/http-filter.js';
import { SharedResources } from '../src/proxy/filter-api/shared-resources.js';
import { filterConfigOf, filterTypeUrl, findFilterFactory } from '../src/proxy/filters/registry.js';
import type { ProxyIdentity } from '../src/xds/node-metadata.js';
import { AUTHZ_HEADERS, AUTHZ_PATH, authzConfigYaml, makeAuthzMaterial, type AuthzMaterial, type JwtAlg } from './authz-cost-config.js';
import { argOr, median, round, runIfMain } from './bench-util.js';

const NAMESPACE = 'default';
const APP = 'bench-mesh';

export interface MicroResult {
  alg: JwtAlg;
  iterations: number;
  rounds: number;
  filters: string[];
  /** µs per request above the bare stream, per round */
  rbac: number[];
  jwt: number[];
  all: number[];
  /** µs per request of the bare stream object */
  base: number[];
}

interface Chain { name: string; config: HttpFilterConfig }

/** The inbound HTTP filters the control plane builds for the workload, parsed by the proxy's factories. */
export function buildChain(m: AuthzMaterial): Chain[] {
  const load = parseConfigText(authzConfigYaml(m, NAMESPACE, APP), 'authz-cost.yaml');
  const errors = load.messages.filter((x) => x.severity === 'error');
  if (errors.length) throw new Error(`authz-cost config does not validate: ${errors.map((e) => `${e.name} ${e.field}: ${e.message}`).join('; ')}`);
  const registry = createLocalRegistry();
  registry.setConfig(load.resources);
  const pc = createPushContext({ config: load.resources, registry, version: 'bench' });
  const proxy: ProxyIdentity = {
    type: 'sidecar', name: 'bench-server', namespace: NAMESPACE, address: '127.0.0.2', labels: { app: APP },
    serviceAccount: 'default', interceptionMode: 'NONE', podPorts: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }], appPorts: {},
  };
  const shared = new SharedResources();
  const ctx = { resolveCluster: () => { throw new Error('no clusters in the microbenchmark'); }, shared, statPrefix: 'inbound_0.0.0.0_8080' };
  return buildAuthzFilters(pc, proxy).http.map((f) => {
    const typed = f.typed_config as Record<string, any>;
    const factory = findFilterFactory(filterTypeUrl(typed));
    if (!factory) throw new Error(`no proxy filter for ${filterTypeUrl(typed)}`);
    return { name: String(f.name), config: factory.parse(filterConfigOf(typed), String(f.name), ctx) };
  });
}

const CONN: ConnectionContext = {
  listenerName: 'virtualInbound', direction: 'inbound', remoteAddress: '127.0.0.1', remotePort: 40000,
  localAddress: '127.0.0.2', localPort: 8080, destination: undefined, draining: false,
  remote: '127.0.0.1:40000', local: '127.0.0.2:8080', routed: undefined, tls: undefined,
};

/** The part of a stream the authorization filters use; the outcome is recorded. */
class BenchStream {
  status = 0;
  details = '';
  continued = false;
  private md: Record<string, Record<string, unknown>> | undefined;
  resume: (() => void) | undefined;
  readonly conn = CONN;
  readonly isGrpc = false;
  readonly isHttp2 = false;
  readonly isHttp10 = false;
  readonly destination = undefined;
  authority = 'bench-mesh:8000';
  constructor(readonly method: string, public path: string, readonly headers: HeaderMap) {}
  setDynamicMetadata(namespace: string, values: Record<string, unknown>): void {
    const md = (this.md ??= {});
    const cur = md[namespace];
    md[namespace] = cur === undefined ? { ...values } : Object.assign(cur, values);
  }
  dynamicMetadata(namespace: string): Record<string, unknown> | undefined {
    return this.md?.[namespace];
  }
  continueDecoding(): void {
    this.continued = true;
    this.resume?.();
  }
  sendLocalReply(status: number, _body: string | undefined, _flag: unknown, opts?: { details?: string }): void {
    this.status = status;
    this.details = opts?.details ?? '';
    this.resume?.();
  }
}

function streamOf(method: string, path: string, headers: HeaderMap): BenchStream {
  return new BenchStream(method, path, { host: 'bench-mesh:8000', 'user-agent': 'clew-bench', accept: '*/*', ...headers });
}

/** Runs the filters in order as the HCM does: 'stop' waits for continueDecoding or a local reply. Returns the local reply status (0: passed). */
async function run(chain: Chain[], s: BenchStream): Promise<number> {
  for (const f of chain) {
    const filter = f.config.create(s as unknown as HttpFilterCallbacks);
    s.continued = false;
    let waiting: Promise<void> | undefined;
    s.resume = undefined;
    const st = filter.decodeHeaders(s as unknown as HttpFilterCallbacks, true);
    if (s.status) return s.status;
    if (st === 'stop') {
      if (!s.continued) {
        waiting = new Promise<void>((r) => (s.resume = () => r()));
        await waiting;
      }
      if (s.status) return s.status;
    }
  }
  return 0;
}

/** Checks that the chain does what the policies say before timing it (a bench of a chain that allows everything would measure nothing). */
export async function checkChain(chain: Chain[], m: AuthzMaterial): Promise<void> {
  const bearer = (t: string) => ({ authorization: `Bearer ${t}`, ...AUTHZ_HEADERS });
  const cases: Array<[string, string, string, HeaderMap, number]> = [
    ['valid token', 'GET', AUTHZ_PATH, bearer(m.token), 0],
    ['no token', 'GET', AUTHZ_PATH, { ...AUTHZ_HEADERS }, 403],
    ['bad signature', 'GET', AUTHZ_PATH, bearer(m.badToken), 401],
    ['DELETE (DENY policy)', 'DELETE', AUTHZ_PATH, bearer(m.token), 403],
    ['other tenant (no ALLOW)', 'GET', AUTHZ_PATH, { authorization: `Bearer ${m.token}`, 'x-tenant': 'tenant-8' }, 403],
    ['valid token again', 'GET', AUTHZ_PATH, bearer(m.token), 0],
  ];
  for (const [what, method, path, headers, want] of cases) {
    const got = await run(chain, streamOf(method, path, headers));
    if (got !== want) throw new Error(`authz-cost: ${what}: the filters answered ${got || 'pass'}, ${want || 'pass'} expected`);
  }
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function timeIt(n: number, one: () => Promise<number>): Promise<number> {
  const t0 = cpuUs();
  for (let i = 0; i < n; i++) {
    const st = await one();
    if (st !== 0) throw new Error(`authz-cost: request ${i} answered ${st}`);
  }
  return (cpuUs() - t0) / n;
}

export async function runMicro(opts: { alg: JwtAlg; iterations: number; rounds: number; log?: (s: string) => void }): Promise<MicroResult> {
  const m = await makeAuthzMaterial(opts.alg);
  const chain = buildChain(m);
  await checkChain(chain, m);
  const jwtPart = chain.filter((f) => f.name !== 'envoy.filters.http.rbac');
  const rbacPart = chain.filter((f) => f.name === 'envoy.filters.http.rbac');
  // request.auth.* as istio_authn leaves it for a verified token: the RBAC-only scenario starts there
  const seeded = streamOf('GET', AUTHZ_PATH, { authorization: `Bearer ${m.token}`, ...AUTHZ_HEADERS });
  if ((await run(jwtPart, seeded)) !== 0) throw new Error('authz-cost: the JWT filters refused the valid token');
  const authn = { jwt: seeded.dynamicMetadata('envoy.filters.http.jwt_authn')!, istio: seeded.dynamicMetadata('istio_authn')! };
  const headers = () => ({ authorization: `Bearer ${m.token}`, ...AUTHZ_HEADERS });
  const scenarios: Record<'base' | 'rbac' | 'jwt' | 'all', () => Promise<number>> = {
    base: async () => (streamOf('GET', AUTHZ_PATH, headers()).status),
    rbac: async () => {
      const s = streamOf('GET', AUTHZ_PATH, headers());
      s.setDynamicMetadata('envoy.filters.http.jwt_authn', authn.jwt);
      s.setDynamicMetadata('istio_authn', authn.istio);
      return run(rbacPart, s);
    },
    jwt: async () => run(jwtPart, streamOf('GET', AUTHZ_PATH, headers())),
    all: async () => run(chain, streamOf('GET', AUTHZ_PATH, headers())),
  };
  const res: MicroResult = { alg: opts.alg, iterations: opts.iterations, rounds: opts.rounds, filters: chain.map((f) => f.name), rbac: [], jwt: [], all: [], base: [] };
  // warm-up: every path optimized before anything is timed
  for (const f of Object.values(scenarios)) await timeIt(Math.min(3000, opts.iterations), f);
  const names = ['base', 'rbac', 'jwt', 'all'] as const;
  for (let r = 0; r < opts.rounds; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    const us: Partial<Record<(typeof names)[number], number>> = {};
    for (const n of order) us[n] = await timeIt(opts.iterations, scenarios[n]);
    res.base.push(round(us.base!, 2));
    for (const n of ['rbac', 'jwt', 'all'] as const) res[n].push(round(us[n]! - us.base!, 2));
    opts.log?.(`micro round ${r + 1}: base ${round(us.base!, 2)} µs; above base: rbac ${res.rbac.at(-1)} µs, jwt ${res.jwt.at(-1)} µs, all ${res.all.at(-1)} µs`);
  }
  return res;
}

export function microSummary(r: MicroResult): { rbac: number; jwt: number; all: number; base: number } {
  return { rbac: median(r.rbac), jwt: median(r.jwt), all: median(r.all), base: median(r.base) };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const alg = argOr(argv, '--alg', 'RS256') as JwtAlg;
  const r = await runMicro({ alg, iterations: Number(argOr(argv, '--iterations', '20000')), rounds: Number(argOr(argv, '--rounds', '5')), log: (s) => process.stderr.write(s + '\n') });
  const s = microSummary(r);
  process.stdout.write(`filters: ${r.filters.join(', ')}\n${alg}, ${r.iterations} requests × ${r.rounds} rounds, µs CPU per request (median): rbac ${round(s.rbac, 2)}, jwt ${round(s.jwt, 2)}, all ${round(s.all, 2)} (bare stream ${round(s.base, 2)})\n`);
}

runIfMain(import.meta.url, main);
