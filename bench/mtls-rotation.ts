/**
 * Certificate rotation under load (issue 17, "Must show" 3): a real control plane's CA with a short
 * `--workload-cert-ttl`, two sidecars with mTLS between them (bench/mtls-mesh.ts), fixed-rate load
 * through both for the whole run, the workload certificate serial of each sidecar polled from its
 * admin (what `clew proxy-config secret` shows), and every request counted.
 *
 *   node dist/bench/mtls-rotation.js [--ttl 1m] [--seconds 180] [--rps 100] [--connections 4]
 *     [--max-requests-per-connection 200] [--write]
 *
 * The client's cluster closes an upstream connection after --max-requests-per-connection requests,
 * so new mTLS handshakes keep happening across rotations (with plain keep-alive the first
 * connection would carry the whole run on the first certificates, which rotation must not break
 * either). --write saves bench/RESULTS-mtls-rotation.md.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runFixedRate } from './bench-load.js';
import { startUpstream } from './bench-peers.js';
import { argOr, repoRoot, runIfMain, sleep } from './bench-util.js';
import { adminCounter, startMeshCa, startMeshPair, workloadSerial } from './mtls-mesh.js';

export interface RotationRun {
  ttl: string;
  seconds: number;
  rps: number;
  requests: number;
  failed: number;
  p50: number;
  p99: number;
  /** distinct workload certificate serials seen over the run, in order */
  serials: { client: string[]; server: string[] };
  /** mTLS handshakes: client sidecar upstream, server sidecar downstream */
  handshakes: { client: number; server: number };
  /** what `clew proxy-config secret` printed for each sidecar at the end */
  cliTables: { client: string; server: string };
}

/** `clew proxy-config secret` against a sidecar's admin. */
export function proxyConfigSecret(proxy: string, adminUrl: string, json = false): string {
  return execFileSync(process.execPath, [path.join(repoRoot(), 'bin', 'clew.js'), 'proxy-config', 'secret', proxy, '--admin', adminUrl, ...(json ? ['-o', 'json'] : [])], { encoding: 'utf8', timeout: 30_000 });
}

/** The SERIAL NUMBER of the `default` row of a `clew proxy-config secret` table. */
export function cliSerial(table: string): string | undefined {
  return /^default\s+Cert Chain\s+\S+\s+\S+\s+([0-9a-f]+)\s/m.exec(table)?.[1];
}

export async function runRotation(o: { ttl: string; seconds: number; rps: number; connections?: number; maxRequestsPerConnection?: number; pollMs?: number; cpu?: { proxies?: number; rest?: number } }): Promise<RotationRun> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-mtls-rotation-'));
  const stops: Array<() => Promise<void>> = [];
  try {
    const up = await startUpstream(workDir, o.cpu?.rest);
    stops.push(() => up.proc.stop());
    const ca = await startMeshCa({ workDir, certTtl: o.ttl, cpu: o.cpu?.rest });
    stops.push(() => ca.stop());
    const mesh = await startMeshPair({ workDir, upstreamPort: up.http, tls: true, ca, certTtl: o.ttl, proxyCpu: o.cpu?.proxies, maxRequestsPerConnection: o.maxRequestsPerConnection ?? 200, logLevel: 'info' });
    stops.push(() => mesh.stop());
    const serials = { client: [] as string[], server: [] as string[] };
    const note = (list: string[], s: string | undefined): void => {
      if (s && list.at(-1) !== s) list.push(s);
    };
    let polling = true;
    const poll = (async () => {
      while (polling) {
        try {
          note(serials.client, await workloadSerial(mesh.client.adminUrl));
          note(serials.server, await workloadSerial(mesh.server.adminUrl));
        } catch (err) {
          process.stderr.write(`serial poll: ${(err as Error).message}\n`);
        }
        await sleep(o.pollMs ?? 1000);
      }
    })();
    const load = await runFixedRate({ url: mesh.outboundUrl, host: 'bench-mesh:8000' }, { cpu: o.cpu?.rest, seconds: o.seconds, rps: o.rps, connections: o.connections ?? 4 });
    polling = false;
    await poll;
    note(serials.client, await workloadSerial(mesh.client.adminUrl));
    note(serials.server, await workloadSerial(mesh.server.adminUrl));
    const cliTables = { client: proxyConfigSecret('mtls-client.default', mesh.client.adminUrl), server: proxyConfigSecret('mtls-server.default', mesh.server.adminUrl) };
    // the CLI's own view ends each list (a rotation may have happened since the last poll)
    note(serials.client, cliSerial(cliTables.client));
    note(serials.server, cliSerial(cliTables.server));
    const run: RotationRun = {
      ttl: o.ttl,
      seconds: o.seconds,
      rps: o.rps,
      requests: load.requests,
      failed: load.errors,
      p50: load.p50,
      p99: load.p99,
      serials,
      handshakes: {
        client: await adminCounter(mesh.client.adminUrl, `cluster.${'outbound|8000||bench-mesh.default.svc.cluster.local'}.ssl.handshake`),
        server: await adminCounter(mesh.server.adminUrl, 'listener.inbound.ssl.handshake'),
      },
      cliTables,
    };
    return run;
  } finally {
    for (const s of stops.reverse()) await s();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const ttl = argOr(argv, '--ttl', '1m');
  const seconds = Number(argOr(argv, '--seconds', '180'));
  const rps = Number(argOr(argv, '--rps', '100'));
  const connections = Number(argOr(argv, '--connections', '4'));
  const maxRequestsPerConnection = Number(argOr(argv, '--max-requests-per-connection', '200'));
  const pin = os.cpus().length > 1;
  const r = await runRotation({ ttl, seconds, rps, connections, maxRequestsPerConnection, cpu: pin ? { proxies: 0, rest: 1 } : undefined });
  const rotations = { client: r.serials.client.length - 1, server: r.serials.server.length - 1 };
  const text = [
    '# mTLS certificate rotation under load',
    '',
    `One run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}. Made by \`node dist/bench/mtls-rotation.js${argv.length ? ` ${argv.join(' ')}` : ''}\`.`,
    '',
    `A real \`clew control-plane --workload-cert-ttl ${ttl}\` (self-signed CA) issues the certificates over CreateCertificate; two \`clew proxy\` sidecars (\`--workload-cert-ttl ${ttl}\`) with Istio mTLS between them (client cluster by \`tlsMode: istio\`, server listener STRICT); ${rps} rps over ${connections} connections for ${seconds} s through both (bench/fixed-rate-load.ts); the client's cluster opens a new mTLS connection every ${maxRequestsPerConnection} requests, so handshakes keep happening across rotations.`,
    '',
    '| figure | value |',
    '| --- | --- |',
    `| requests | ${r.requests} |`,
    `| failed (errors + non-2xx) | ${r.failed} |`,
    `| latency p50 / p99 µs | ${r.p50} / ${r.p99} |`,
    `| rotations seen, client sidecar | ${rotations.client} (serials ${r.serials.client.join(' → ')}) |`,
    `| rotations seen, server sidecar | ${rotations.server} (serials ${r.serials.server.join(' → ')}) |`,
    `| mTLS handshakes (client upstream / server downstream) | ${r.handshakes.client} / ${r.handshakes.server} |`,
    '',
    '`clew proxy-config secret` at the end, client sidecar:',
    '',
    '```',
    r.cliTables.client.trimEnd(),
    '```',
    '',
    'Server sidecar:',
    '',
    '```',
    r.cliTables.server.trimEnd(),
    '```',
    '',
  ].join('\n');
  process.stdout.write(text);
  if (argv.includes('--write')) fs.writeFileSync(path.join(repoRoot(), 'bench', 'RESULTS-mtls-rotation.md'), text);
  if (r.failed > 0 || rotations.client < 2 || rotations.server < 2) process.exitCode = 1;
}

runIfMain(import.meta.url, main);
