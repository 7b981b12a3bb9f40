/**
 * Accept cost of a captured listener: connections per second, and the listening process's CPU per
 * connection, through an iptables REDIRECT in a network namespace this bench creates (root).
 *
 *   node dist/bench/capture-accept.js [--seconds 5] [--rounds 3] [--concurrency 32]
 *     [--variant NAME=capture|net|FILE]... [--instructions [--warmup 5000] [--connections 3000]]
 *
 * A client process opens connections to 10.9.9.9:80 (REDIRECTed to the listener's port), --
 * concurrency at a time, each closed by the server as soon as it is accepted, for --seconds;
 * variants take turns, round after round (host drift hits each alike); medians are printed.
 * Variants (default: capture and net):
 * - capture: CaptureListener (the addon accepts and reads SO_ORIGINAL_DST; the descriptor is
 *   wrapped with `new net.Socket({ fd })`); every connection's original destination is checked;
 * - net: net.Server, Node's own accept, no original destination: the floor;
 * - FILE: a server script of your own (to measure another implementation, e.g. an older
 *   checkout's): it listens on process.env.PORT, prints "ready" on stdout, counts connections,
 *   and on SIGTERM prints `{"accepted":N,"wrongDst":N,"cpuUs":N}` and exits.
 * With taskset, the server runs on CPU 0 and the client on CPU 1. Time figures on shared VMs
 * drift; --instructions counts the server's user-space instructions per connection under
 * valgrind (callgrind): --warmup connections, counters zeroed (callgrind_control -z), then
 * exactly --connections more (the figure that does not move with the host; syscalls themselves
 * are kernel work and not counted).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { callgrindTotal } from './instructions.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LISTENER = pathToFileURL(path.join(ROOT, 'dist/src/capture/capture-listener.js')).href;
const ADDON = pathToFileURL(path.join(ROOT, 'dist/src/capture/original-dst.js')).href;
const PORT = 15999;
const VIP = '10.9.9.9';

const REPORT = `
let accepted = 0, wrongDst = 0;
const cpu0 = process.cpuUsage();
process.on('SIGTERM', () => {
  const c = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ accepted, wrongDst, cpuUs: c.user + c.system }) + '\\n', () => process.exit(0));
});`;

const SERVERS: Record<string, string> = {
  capture: `import { CaptureListener, capturedDestination } from ${JSON.stringify(LISTENER)};
import { loadOriginalDstAddon } from ${JSON.stringify(ADDON)};
${REPORT}
const l = new CaptureListener(loadOriginalDstAddon().addon);
l.on('connection', (s) => {
  accepted++;
  const d = capturedDestination(s);
  if (!d || d.host !== '${VIP}' || d.port !== 80) wrongDst++;
  s.on('error', () => {});
  s.end();
});
l.listen({ host: '0.0.0.0', port: Number(process.env.PORT) }, () => console.log('ready'));`,
  net: `import * as net from 'node:net';
${REPORT}
net.createServer({ noDelay: true }, (s) => { accepted++; s.on('error', () => {}); s.end(); })
  .listen({ host: '0.0.0.0', port: Number(process.env.PORT) }, () => console.log('ready'));`,
};

// until a deadline (ms > 0) or a number of connections (ms < 0: -count)
const CLIENT = `
const net = require('node:net');
const [host, port, conc, ms] = process.argv.slice(1);
let done = 0, failed = 0, started = 0;
const until = Number(ms) > 0 ? Date.now() + Number(ms) : Infinity;
const count = Number(ms) < 0 ? -Number(ms) : Infinity;
function one() {
  if (Date.now() >= until || started >= count) return finish();
  started++;
  const c = net.connect(Number(port), host);
  c.on('error', () => failed++);
  c.on('close', () => { done++; one(); });
  c.resume();
}
let live = Number(conc);
function finish() { if (--live === 0) console.log(JSON.stringify({ done, failed })); }
for (let i = 0; i < Number(conc); i++) one();`;

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

function variants(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  process.argv.forEach((a, i) => {
    if (a !== '--variant') return;
    const [name, what] = process.argv[i + 1].split('=');
    out.push([name, SERVERS[what] ?? fs.readFileSync(what, 'utf8')]);
  });
  return out.length > 0 ? out : Object.entries(SERVERS);
}

function sh(ns: string, cmd: string): void {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
}

function pinned(cpu: number, args: string[]): string[] {
  const taskset = spawnSync('sh', ['-c', 'command -v taskset']).status === 0 && os.cpus().length >= 2;
  return taskset ? ['taskset', '-c', String(cpu), ...args] : args;
}

function collect(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

async function runOnce(ns: string, script: string, seconds: number, concurrency: number): Promise<{ cps: number; cpuUsPerConn: number; wrongDst: number; failed: number }> {
  const server = spawn('ip', ['netns', 'exec', ns, ...pinned(0, [process.execPath, '--input-type=module', '-e', script])], {
    env: { ...process.env, PORT: String(PORT) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serverOut = collect(server);
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
    server.on('close', () => reject(new Error('server exited before it was ready')));
  });
  try {
    const t0 = process.hrtime.bigint();
    const c = await clientRun(ns, concurrency, seconds * 1000);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    // ip netns exec runs node in place (exec): the pid is node's
    server.kill('SIGTERM');
    const s = JSON.parse((await serverOut).trim().split('\n').pop()!) as { accepted: number; wrongDst: number; cpuUs: number };
    return { cps: c.done / secs, cpuUsPerConn: s.cpuUs / Math.max(1, s.accepted), wrongDst: s.wrongDst, failed: c.failed };
  } finally {
    server.kill('SIGKILL');
  }
}

/** a client run inside the namespace: ms > 0 for a duration, < 0 for -count connections */
async function clientRun(ns: string, concurrency: number, ms: number): Promise<{ done: number; failed: number }> {
  const client = spawn('ip', ['netns', 'exec', ns, ...pinned(1, [process.execPath, '-e', CLIENT, VIP, '80', String(concurrency), String(ms)])], { stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(await collect(client)) as { done: number; failed: number };
}

/** user-space instructions per accepted connection of the server, under callgrind */
async function instructionsOnce(ns: string, script: string, concurrency: number, warmup: number, count: number): Promise<number> {
  const out = path.join(os.tmpdir(), `capture-accept-${process.pid}.callgrind`);
  const server = spawn('ip', ['netns', 'exec', ns, 'valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`, '--dump-instr=no', process.execPath, '--input-type=module', '-e', script], {
    env: { ...process.env, PORT: String(PORT) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serverOut = collect(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      server.on('close', () => reject(new Error('server exited before it was ready')));
    });
    await clientRun(ns, concurrency, -warmup);
    execFileSync('callgrind_control', ['-z', String(server.pid)], { stdio: 'ignore' });
    const c = await clientRun(ns, concurrency, -count);
    server.kill('SIGTERM');
    await serverOut;
    return callgrindTotal(out) / Math.max(1, c.done);
  } finally {
    server.kill('SIGKILL');
    fs.rmSync(out, { force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('capture-accept needs root (a network namespace and iptables)');
  const seconds = Number(arg('seconds', '5'));
  const rounds = Number(arg('rounds', '3'));
  const concurrency = Number(arg('concurrency', '32'));
  const ns = `bench-capture-${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns]);
  const cleanup = (): void => void spawnSync('ip', ['netns', 'del', ns]);
  process.once('exit', cleanup);
  try {
    sh(ns, `ip link set lo up && ip addr add ${VIP}/32 dev lo && iptables -t nat -A OUTPUT -p tcp -d ${VIP} --dport 80 -j REDIRECT --to-ports ${PORT}`);
    const vs = variants();
    if (process.argv.includes('--instructions')) {
      const warmup = Number(arg('warmup', '5000'));
      const count = Number(arg('connections', '3000'));
      console.log(`Node ${process.version}, callgrind, ${warmup} warm-up then ${count} connections, ${concurrency} concurrent, REDIRECT ${VIP}:80 -> :${PORT}`);
      console.log('| variant | server instructions/connection (user space) |');
      console.log('|---|---:|');
      for (const [name, script] of vs) console.log(`| ${name} | ${Math.round(await instructionsOnce(ns, script, concurrency, warmup, count))} |`);
      return;
    }
    const results = new Map<string, Array<Awaited<ReturnType<typeof runOnce>>>>(vs.map(([n]) => [n, []]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, script] of vs) {
        const x = await runOnce(ns, script, seconds, concurrency);
        results.get(name)!.push(x);
        console.error(`round ${r + 1} ${name}: ${Math.round(x.cps)} conn/s, ${x.cpuUsPerConn.toFixed(1)} µs CPU/conn (server), wrong destinations ${x.wrongDst}, client errors ${x.failed}`);
      }
    }
    console.log(`Node ${process.version}, ${rounds} rounds × ${seconds} s, ${concurrency} concurrent connections, REDIRECT ${VIP}:80 -> :${PORT}`);
    console.log('| variant | connections/s (median) | server CPU µs/connection (median) | wrong destinations |');
    console.log('|---|---:|---:|---:|');
    for (const [name, xs] of results) {
      console.log(`| ${name} | ${Math.round(median(xs.map((x) => x.cps)))} | ${median(xs.map((x) => x.cpuUsPerConn)).toFixed(1)} | ${xs.reduce((a, x) => a + x.wrongDst, 0)} |`);
    }
  } finally {
    cleanup();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
