/**
 * Control-plane benchmark: 1000 services, 10,000 endpoints, 100 ADS clients.
 * Measures time to first full push (every client has CDS, EDS, LDS, RDS and ACKed), then
 * p50/p99 from `apply` of one VirtualService until every affected client has received it and
 * ACKed, and the control plane's RSS. The control plane runs as its own process (`clew
 * control-plane`), the clients in this one.
 *
 *   node dist/bench/control-plane.js [--services 1000] [--endpoints-per-service 10] [--clients 100] [--applies 30]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { lookupType, protoRoot } from '../src/xds/proto-root.js';
import { decodeResource } from '../src/xds/codec.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../src/xds/type-urls.js';
import { freePort, percentile, readRssMb, repoRoot, waitForHttp, writeResults } from './bench-util.js';

interface Args { services: number; perService: number; clients: number; applies: number }

function parseArgs(): Args {
  const a = process.argv.slice(2);
  const get = (flag: string, dflt: number) => {
    const i = a.indexOf(flag);
    return i >= 0 ? Number(a[i + 1]) : dflt;
  };
  return { services: get('--services', 1000), perService: get('--endpoints-per-service', 10), clients: get('--clients', 100), applies: get('--applies', 30) };
}

function writeConfig(dir: string, args: Args): void {
  const docs: string[] = [];
  for (let s = 0; s < args.services; s++) {
    const ns = `ns${s % 10}`;
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: svc-${s}, namespace: ${ns}}
spec:
  selector: {app: svc-${s}}
  ports: [{name: http, port: 8080}]`);
    for (let e = 0; e < args.perService; e++) {
      const n = s * args.perService + e;
      // addresses are data only: no client ever dials them
      docs.push(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: svc-${s}-${e}, namespace: ${ns}}
spec:
  address: 127.${10 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}
  labels: {app: svc-${s}, version: v${e % 2 + 1}}`);
    }
  }
  fs.writeFileSync(path.join(dir, 'mesh.yaml'), docs.join('\n---\n') + '\n');
}

function vsYaml(i: number): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-0, namespace: ns0}
spec:
  hosts: [svc-0.ns0.svc.cluster.local]
  http:
  - timeout: ${i + 1}s
    route:
    - destination: {host: svc-0.ns0.svc.cluster.local}
`;
}

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

interface Derived { names: string[]; svc0Timeout?: number }
const derivedCache = new Map<string, Derived>();

function derive(typeUrl: string, res: any): Derived {
  const key = `${typeUrl}|${res.version_info}`;
  const hit = derivedCache.get(key);
  if (hit) return hit;
  const resources = (res.resources ?? []).map((a: any) => decodeResource(typeUrl, a.value));
  const out: Derived = { names: [] };
  if (typeUrl === CLUSTER_TYPE) {
    out.names = resources.filter((c: any) => c.type === 'EDS' || c.eds_cluster_config).map((c: any) => c.name).sort();
  } else if (typeUrl === LISTENER_TYPE) {
    const routes = new Set<string>();
    for (const l of resources) for (const fc of l.filter_chains ?? []) for (const f of fc.filters ?? []) {
      const rn = f.typed_config?.rds?.route_config_name;
      if (rn) routes.add(rn);
    }
    out.names = [...routes].sort();
  } else if (typeUrl === ROUTE_TYPE) {
    for (const rc of resources) for (const vh of rc.virtual_hosts ?? []) {
      if (vh.name?.startsWith('svc-0.ns0.svc.cluster.local')) {
        const t = vh.routes?.[0]?.route?.timeout;
        if (t) out.svc0Timeout = Number(t.seconds ?? 0);
      }
    }
  }
  derivedCache.set(key, out);
  return out;
}

class BenchClient {
  private call: grpc.ClientDuplexStream<any, any>;
  readonly acked = new Map<string, { version: string; at: number }>();
  private sentNames = new Map<string, string[]>();
  routeTimeouts = new Map<string, number>();
  onUpdate: () => void = () => {};
  constructor(client: grpc.Client, readonly id: number) {
    const Req = lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const Res = lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    this.call = client.makeBidiStreamRequest(
      ADS_PATH,
      (o: any) => Buffer.from(Req.encode(Req.fromObject(o)).finish()),
      (b: Buffer) => Res.toObject(Res.decode(b), { longs: Number, enums: String }),
    );
    this.call.on('data', (res: any) => this.onResponse(res));
    this.call.on('error', () => {});
    const node = { id: `sidecar~127.200.0.${id}~bench-${id}.ns0~ns0.svc.cluster.local`, locality: {}, metadata: { fields: {} } }; // empty Struct
    this.send(CLUSTER_TYPE, [], '', '', node);
    this.send(LISTENER_TYPE, [], '', '');
  }
  private send(typeUrl: string, names: string[], version: string, nonce: string, node?: any): void {
    this.sentNames.set(typeUrl, names);
    this.call.write({ type_url: typeUrl, resource_names: names, version_info: version, response_nonce: nonce, node });
  }
  private onResponse(res: any): void {
    const typeUrl: string = res.type_url;
    // Versions are content hashes shared by identical streams: decode each version once per
    // process, so the figures measure the control plane rather than 100 decoders in one process.
    const info = derive(typeUrl, res);
    if (typeUrl === CLUSTER_TYPE) {
      this.send(CLUSTER_TYPE, [], res.version_info, res.nonce);
      if (JSON.stringify(info.names) !== JSON.stringify(this.sentNames.get(ENDPOINT_TYPE) ?? null)) this.send(ENDPOINT_TYPE, info.names, '', '');
    } else if (typeUrl === LISTENER_TYPE) {
      this.send(LISTENER_TYPE, [], res.version_info, res.nonce);
      if (JSON.stringify(info.names) !== JSON.stringify(this.sentNames.get(ROUTE_TYPE) ?? null)) this.send(ROUTE_TYPE, info.names, '', '');
    } else {
      if (typeUrl === ROUTE_TYPE && info.svc0Timeout !== undefined) this.routeTimeouts.set('svc-0', info.svc0Timeout);
      this.send(typeUrl, this.sentNames.get(typeUrl) ?? [], res.version_info, res.nonce);
    }
    this.acked.set(typeUrl, { version: res.version_info, at: performance.now() });
    this.onUpdate();
  }
  close(): void {
    this.call.end();
  }
}

async function main(): Promise<void> {
  const args = parseArgs();
  protoRoot();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-bench-cp-'));
  writeConfig(dir, args);
  const xdsPort = await freePort();
  const debugPort = await freePort();
  const cpProc: ChildProcess = spawn(process.execPath, [
    path.join(repoRoot(), 'bin', 'clew.js'), 'control-plane', '--config-dir', dir,
    '--xds-port', String(xdsPort), '--secure-xds-port', '0', '--debug-port', String(debugPort),
  ], { stdio: ['ignore', 'ignore', 'inherit'] });
  const base = `http://127.0.0.1:${debugPort}`;
  try {
    const tStart = performance.now();
    await waitForHttp(`${base}/ready`, 120_000);
    const loadMs = performance.now() - tStart;
    const rssIdle = readRssMb(cpProc.pid!);

    const grpcClients: grpc.Client[] = [];
    const clients: BenchClient[] = [];
    const t0 = performance.now();
    const allSynced = new Promise<void>((resolve) => {
      const check = () => {
        if (clients.length === args.clients && clients.every((c) => c.acked.size === 4)) resolve();
      };
      for (let i = 0; i < args.clients; i++) {
        const gc = new grpc.Client(`127.0.0.1:${xdsPort}`, grpc.credentials.createInsecure(), {
          'grpc.max_receive_message_length': 256 * 1024 * 1024,
          // a connection per client, as 100 proxies have (grpc-js would otherwise multiplex
          // every client of this process onto one shared HTTP/2 connection)
          'grpc.use_local_subchannel_pool': 1,
        });
        grpcClients.push(gc);
        const c = new BenchClient(gc, i);
        c.onUpdate = check;
        clients.push(c);
      }
    });
    await allSynced;
    const firstPushMs = performance.now() - t0;
    const rssConnected = readRssMb(cpProc.pid!);

    const latencies: number[] = [];
    for (let i = 0; i < args.applies; i++) {
      const want = i + 1;
      const done = new Promise<void>((resolve) => {
        const check = () => {
          if (clients.every((c) => c.routeTimeouts.get('svc-0') === want)) resolve();
        };
        for (const c of clients) c.onUpdate = check;
      });
      const ts = performance.now();
      const token = fs.readFileSync(path.join(dir, '.clew', 'secrets', 'admin-token'), 'utf8').trim();
      const res = await request(`${base}/apis/v1/apply?file=vs.yaml`, {
        method: 'POST', body: vsYaml(i), headers: { 'content-type': 'application/yaml', authorization: `Bearer ${token}` },
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`apply failed: HTTP ${res.statusCode}`);
      await done;
      latencies.push(performance.now() - ts);
      await new Promise((r) => setTimeout(r, 150));
    }
    const rssAfter = readRssMb(cpProc.pid!);
    for (const c of clients) c.close();
    for (const gc of grpcClients) gc.close();
    const result = {
      services: args.services,
      endpoints: args.services * args.perService,
      clients: args.clients,
      config_load_ms: Math.round(loadMs),
      first_full_push_ms: Math.round(firstPushMs),
      apply_to_all_acked_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) },
      rss_mb: { idle_loaded: rssIdle, clients_connected: rssConnected, after_applies: rssAfter },
      targets: { p99_ms: 500, rss_mb: 500 },
    };
    console.log(JSON.stringify(result, null, 2));
    writeResults('control-plane', result);
  } finally {
    cpProc.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
