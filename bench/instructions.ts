/**
 * User-space instructions per request of the client sidecar, counted by valgrind (callgrind): the
 * one figure of the sidecar's cost that does not move with the host. Time-based figures on these
 * VMs drift by ±15 % between minutes, so a change of a few µs is judged here first and confirmed
 * with bench/ab.ts. Kernel work (the socket syscalls themselves) is not counted.
 *
 *   node dist/bench/instructions.js [--dir DIR] [--flags '...'] [--telemetry on|off|log|metrics]
 *     [--warmup 10000] [--requests 4000] [--connections 16] [--mesh | --h2 | --grpc] [--streams 10]
 *     [--floor [--lean-bind]] [--by-object] [--keep FILE]
 *
 * DIR is a checkout with a built dist/ (default: this one). The client sidecar runs under
 * `valgrind --tool=callgrind` (about 70 × slower); after the warm-up requests its counters are
 * zeroed (callgrind_control -z), then exactly --requests requests go through it on keep-alive
 * connections, and the dump's total Ir ÷ requests is printed (JSON on stdout). --keep saves the
 * dump (for callgrind_annotate: node's binary has symbols, V8's builtins included).
 *
 * --h2 / --grpc: the same count over h2c (prior knowledge) through the client sidecar to the
 * bench upstream's h2c port: GET / (1 KiB answer) or a unary gRPC call (/bench.Echo/Echo, one
 * 5-byte message, trailers), as the suite's h2load runs; --connections sessions with --streams
 * concurrent streams each (h2load -c16 -m10), each stream opened when one completes. Under
 * valgrind 160 streams in flight queue for seconds, long enough for the sidecar's keepalive to
 * close a session whose PING ACK waits behind them; --connections 4 keeps the queue short.
 *
 * --floor (with --h2 or --grpc): bench/h2-proxy.ts, a minimal node:http2 relay (server stream
 * -> one upstream client session), runs under valgrind instead of the sidecar: node:http2's own
 * cost per proxied request, the floor the sidecar's HTTP/2 figures compare with.
 *
 * Comparing Node versions: use --warmup 40000. Node 22/24 tier code up later than Node 20
 * (Maglev, then Turbofan); after 10,000 requests Node 24's optimizing compiler still runs on
 * worker threads and the window counts it (bench/RESULTS-node-versions.md).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchTelemetry } from './bench-clew.js';
import { startUpstream } from './bench-peers.js';
import { spawnPinned } from './bench-proc.js';
import { PROXY_NODE_FLAGS } from '../src/cli/proxy-heap.js';
import { which } from './bench-tools.js';
import { freePortOn, repoRoot, round, sleep, runIfMain, waitForPort } from './bench-util.js';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** `total` requests (raw bytes `req`) over `conns` keep-alive connections, each sent when the last answer is complete. */
export async function closedLoopRaw(port: number, hostname: string, req: Buffer, total: number, conns: number): Promise<{ ok: number; failed: number; statuses: Record<string, number> }> {
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const statuses: Record<string, number> = {};
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect(port, hostname);
      s.setNoDelay(true);
      let buf = '';
      let need = -1;
      const next = (): void => {
        if (sent >= total) {
          s.end();
          resolve();
          return;
        }
        sent++;
        buf = '';
        need = -1;
        s.write(req);
      };
      s.on('connect', next);
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (need < 0) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const code = buf.slice(9, 12);
          statuses[code] = (statuses[code] ?? 0) + 1;
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.slice(0, end));
          if (!m) {
            failed++;
            s.destroy();
            resolve();
            return;
          }
          need = end + 4 + Number(m[1]);
          if (code !== '200') failed++;
          else ok++;
        }
        if (buf.length >= need) next();
      });
      s.on('error', () => {
        failed++;
        resolve();
      });
    });
  await Promise.all(Array.from({ length: conns }, one));
  return { ok, failed, statuses };
}

/** `total` GET requests over `conns` keep-alive connections, each sent when the last answer is complete. */
export async function closedLoop(url: string, host: string, total: number, conns: number): Promise<{ ok: number; failed: number }> {
  const u = new URL(url);
  const req = Buffer.from(`GET ${u.pathname} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: clew-bench\r\nAccept: */*\r\n\r\n`);
  const { ok, failed } = await closedLoopRaw(Number(u.port), u.hostname, req, total, conns);
  return { ok, failed };
}

/** The suite's gRPC request message (bench/run.ts): uncompressed, length 5, a 3-byte string field. */
const GRPC_REQUEST = Buffer.from([0, 0, 0, 0, 5, 0x0a, 0x03, 0x61, 0x62, 0x63]);

/**
 * `total` h2c requests over `conns` sessions with `streams` concurrent streams each; a stream is
 * opened when one completes. gRPC: POST /bench.Echo/Echo with one message, ok = grpc-status 0.
 */
export async function closedLoopH2(url: string, authority: string, total: number, conns: number, streams: number, grpc: boolean): Promise<{ ok: number; failed: number }> {
  let sent = 0;
  let ok = 0;
  let failed = 0;
  const headers: http2.OutgoingHttpHeaders = grpc
    ? { ':method': 'POST', ':path': '/bench.Echo/Echo', ':authority': authority, 'content-type': 'application/grpc', te: 'trailers' }
    : { ':method': 'GET', ':path': '/', ':authority': authority };
  // one lane per connection: `streams` in flight on its session; a session the sidecar ends
  // (GOAWAY on a config drain, keepalive) is replaced and the lane carries on
  const lane = (): Promise<void> =>
    new Promise((resolve) => {
      let s: http2.ClientHttp2Session;
      let live = 0;
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        s.close();
        resolve();
      };
      const one = (): void => {
        if (sent >= total) {
          if (live === 0) finish();
          return;
        }
        if (s.closed || s.destroyed) {
          if (live === 0) open();
          return;
        }
        sent++;
        live++;
        const req = s.request(headers, { endStream: !grpc });
        let status = 0;
        let grpcStatus: string | undefined;
        req.on('response', (h) => {
          status = Number(h[':status']);
          if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
        });
        req.on('trailers', (t) => {
          if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
        });
        req.on('data', () => undefined);
        req.on('error', () => undefined);
        req.on('close', () => {
          live--;
          if (status === 200 && (!grpc || grpcStatus === '0')) ok++;
          else failed++;
          one();
        });
        if (grpc) req.end(GRPC_REQUEST);
      };
      const open = (): void => {
        const mine = (s = http2.connect(url));
        mine.on('error', () => undefined);
        mine.on('connect', () => {
          for (let i = 0; i < streams; i++) one();
        });
        mine.on('close', () => {
          if (s === mine && !finished && live === 0) {
            if (sent >= total) finish();
            else open();
          }
        });
      };
      open();
    });
  await Promise.all(Array.from({ length: conns }, lane));
  return { ok, failed };
}

/** Total Ir of a callgrind dump ("summary:" or "totals:" line). */
export function callgrindTotal(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  const m = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${file}`);
  return Number(m[1]);
}

/** Ir by object file (ob=) in a callgrind dump: node binary, JIT code (unknown), libc... */
export function callgrindByObject(file: string): Array<[string, number]> {
  const names = new Map<string, string>();
  const by = new Map<string, number>();
  let ob = '?';
  let callCost = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('calls=')) {
      // the next cost line is the inclusive cost of that call, not self cost
      callCost = true;
    } else if (line.startsWith('ob=')) {
      const m = /^ob=\((\d+)\)(?: (.*))?$/.exec(line);
      if (m) {
        if (m[2]) names.set(m[1], m[2]);
        ob = names.get(m[1]) ?? m[1];
      } else ob = line.slice(3);
    } else if (/^(?:[+-]?\d|\*)/.test(line)) {
      if (callCost) {
        callCost = false;
        continue;
      }
      const ir = Number(line.split(' ')[1]);
      if (Number.isFinite(ir)) by.set(ob, (by.get(ob) ?? 0) + ir);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const root = path.resolve(arg(argv, '--dir') ?? repoRoot());
  const flags = (arg(argv, '--flags') ?? '').split(' ').filter(Boolean);
  const telemetry = (arg(argv, '--telemetry') ?? 'on') as BenchTelemetry;
  const warmup = Number(arg(argv, '--warmup') ?? 10000);
  const requests = Number(arg(argv, '--requests') ?? 4000);
  const conns = Number(arg(argv, '--connections') ?? 16);
  const mesh = argv.includes('--mesh');
  const grpc = argv.includes('--grpc');
  const h2 = grpc || argv.includes('--h2');
  const streams = Number(arg(argv, '--streams') ?? 10);
  if (!which('valgrind') || !which('callgrind_control')) throw new Error('valgrind missing (apt-get install valgrind)');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-instr-'));
  const pin = which('taskset') !== undefined && os.cpus().length > 1;
  const up = await startUpstream(workDir, pin ? 1 : undefined);
  const mod = (await import(path.join(root, 'dist', 'bench', 'bench-clew.js'))) as typeof import('./bench-clew.js');
  const out = path.join(workDir, 'cg.out');
  const valgrind = ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', '--compress-strings=no', '--compress-pos=no'];
  const floor = argv.includes('--floor');
  if (floor && !h2) throw new Error('--floor needs --h2 or --grpc');
  let setup: { pid: number; url: string; host: string; stop(): Promise<unknown> };
  try {
    if (floor) {
      const port = await freePortOn('127.0.0.1');
      const relay = spawnPinned('h2-proxy', pin ? 0 : undefined, valgrind[0], [
        ...valgrind.slice(1), process.execPath, ...PROXY_NODE_FLAGS, ...flags, path.join(root, 'dist', 'bench', 'h2-proxy.js'),
        '--port', String(port), '--upstream-port', String(grpc ? up.grpc : up.h2), ...(argv.includes('--lean-bind') ? ['--lean-bind'] : []),
      ], path.join(workDir, 'relay.log'));
      await waitForPort('127.0.0.1', port, 600_000).catch(async (err: unknown) => {
        await relay.stop();
        throw err;
      });
      setup = { pid: relay.pid, url: `http://127.0.0.1:${port}/`, host: grpc ? 'bench-h2:9000' : 'bench-h2:8001', stop: () => relay.stop() };
    } else {
      const c = await mod.startClew({
        workDir, upstreams: up, proxyCpu: pin ? 0 : undefined, cpCpu: pin ? 1 : undefined, telemetry,
        nodeArgs: { client: flags, server: flags },
        wrapClient: valgrind,
        readyTimeoutMs: 600_000,
      });
      const host = grpc ? c.hosts.grpc : h2 ? c.hosts.h2 : mesh ? c.hosts.mesh : c.hosts.sidecar;
      setup = { pid: c.client.pid, url: c.outboundUrl, host, stop: () => c.stop() };
    }
  } catch (err) {
    // a sidecar or relay that never came up: the upstream and work dir go too
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
  try {
    const host = setup.host;
    const loop = (n: number): Promise<{ ok: number; failed: number }> =>
      h2 ? closedLoopH2(setup.url, host, n, conns, streams, grpc) : closedLoop(setup.url, host, n, conns);
    const w = await loop(warmup);
    // h2: a session the sidecar closes under valgrind's slowness (its keepalive PING unanswered
    // behind a long queue) fails the streams on it; the lane reconnects, the warm-up goes on
    if (w.failed > (h2 ? warmup / 100 : 0)) throw new Error(`${w.failed} warm-up requests failed`);
    await sleep(500);
    execFileSync('callgrind_control', ['-z', String(setup.pid)], { stdio: 'ignore' });
    const t0 = Date.now();
    const r = await loop(requests);
    const secs = (Date.now() - t0) / 1000;
    execFileSync('callgrind_control', ['-d', String(setup.pid)], { stdio: 'ignore' });
    await sleep(500);
    const dumps = fs.readdirSync(workDir).filter((f) => f.startsWith('cg.out')).sort();
    const last = path.join(workDir, dumps[dumps.length - 1]);
    const ir = callgrindTotal(last);
    const result: Record<string, unknown> = {
      dir: root, flags, telemetry, mode: grpc ? 'grpc' : h2 ? 'h2' : mesh ? 'mesh' : 'http1', ...(floor ? { floor: `bench/h2-proxy.ts${argv.includes('--lean-bind') ? ' --lean-bind' : ''}` } : {}), ...(h2 ? { connections: conns, streams } : {}), warmup, requests: r.ok, failed: r.failed,
      instructionsPerRequest: Math.round(ir / Math.max(1, r.ok)),
      underValgrindRps: round(r.ok / secs, 0),
    };
    const keep = arg(argv, '--keep');
    if (keep) fs.copyFileSync(last, keep);
    if (argv.includes('--by-object')) {
      result.byObject = callgrindByObject(last).slice(0, 8).map(([o, n]) => [o, Math.round(n / Math.max(1, r.ok))]);
    }
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await setup.stop();
    await up.proc.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, main);
