/**
 * A fixed-rate HTTP/1.1 load generator with microsecond latencies, for the latency comparison
 * (hey prints latencies rounded to 0.1 ms, too coarse for what one proxy hop adds).
 * Request i is due at i/rps; it goes out on the next idle keep-alive connection (connections
 * are used in turn), and its latency runs from the write to the last byte of the response.
 * Raw sockets and one pre-encoded request keep the generator's own cost and jitter low.
 *
 *   node dist/bench/fixed-rate-load.js --url http://127.0.0.1:8080/ [--host svc:8000]
 *     [--rps 1000] [--connections 16] [--duration-ms 10000] [--header 'name: value']...
 * Prints one JSON object.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`missing ${name}`);
  return dflt;
}

const url = new URL(arg('--url'));
const hostHeader = arg('--host', url.host);
const rps = Number(arg('--rps', '1000'));
const connections = Number(arg('--connections', '16'));
const durationMs = Number(arg('--duration-ms', '10000'));
// --header 'name: value', repeatable: extra request headers (a bearer token)
const extraHeaders = process.argv.flatMap((a, i) => (a === '--header' && process.argv[i + 1] !== undefined ? [`${process.argv[i + 1]}\r\n`] : [])).join('');
const REQUEST = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${hostHeader}\r\nUser-Agent: clew-bench\r\nAccept: */*\r\n${extraHeaders}\r\n`);

interface Conn {
  socket: net.Socket;
  buf: Buffer;
  sentAt: number;
  busy: boolean;
  dead?: boolean;
}

const latenciesUs: number[] = [];
let errors = 0;
let non2xx = 0;
let queuedMax = 0;
let backlog = 0;
const idle: Conn[] = [];
let stopping = false;
let inFlight = 0;

/** Bytes of a complete response at the start of buf, or 0 when incomplete. */
function completeLength(buf: Buffer): { length: number; status: number } {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { length: 0, status: 0 };
  const head = buf.toString('latin1', 0, end);
  const status = Number(head.slice(9, 12));
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) {
    const total = end + 4 + Number(cl[1]);
    return { length: buf.length >= total ? total : 0, status };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const term = buf.indexOf('\r\n0\r\n\r\n', end);
    return { length: term >= 0 ? term + 7 : 0, status };
  }
  return { length: end + 4, status };
}

function send(c: Conn): void {
  c.busy = true;
  inFlight++;
  c.sentAt = performance.now();
  c.socket.write(REQUEST);
}

function release(c: Conn): void {
  c.busy = false;
  if (c.dead) return;
  if (backlog > 0 && !stopping) {
    backlog--;
    send(c);
  } else idle.push(c);
}

function open(): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port || 80), noDelay: true });
    const c: Conn = { socket, buf: Buffer.alloc(0), sentAt: 0, busy: false };
    socket.once('connect', () => resolve(c));
    socket.once('error', reject);
    socket.once('close', () => {
      // a connection lost mid-run: its request (if any) is an error and it leaves the rotation
      if (c.busy) {
        errors++;
        inFlight--;
        c.busy = false;
      }
      const i = idle.indexOf(c);
      if (i >= 0) idle.splice(i, 1);
      c.dead = true;
    });
    socket.on('data', (d: Buffer) => {
      c.buf = c.buf.length ? Buffer.concat([c.buf, d]) : d;
      const { length, status } = completeLength(c.buf);
      if (!length || !c.busy) return;
      latenciesUs.push((performance.now() - c.sentAt) * 1000);
      inFlight--;
      if (status < 200 || status > 299) non2xx++;
      c.buf = c.buf.length > length ? c.buf.subarray(length) : Buffer.alloc(0);
      release(c);
    });
  });
}

function pct(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

async function main(): Promise<void> {
  const conns = await Promise.all(Array.from({ length: connections }, () => open()));
  idle.push(...conns);
  const start = performance.now();
  const interval = 1000 / rps;
  let next = 0;
  let scheduled = 0;
  await new Promise<void>((done) => {
    const tick = () => {
      const now = performance.now();
      if (now - start >= durationMs) {
        done();
        return;
      }
      while (start + next * interval <= now) {
        next++;
        scheduled++;
        const c = idle.shift();
        if (c) send(c);
        else {
          backlog++;
          queuedMax = Math.max(queuedMax, backlog);
        }
      }
      setTimeout(tick, Math.max(0, start + next * interval - performance.now()));
    };
    tick();
  });
  stopping = true;
  const elapsed = performance.now() - start;
  const drainEnd = performance.now() + 3000;
  while (inFlight > 0 && performance.now() < drainEnd) await new Promise((r) => setTimeout(r, 5));
  const lost = inFlight;
  for (const c of conns) c.socket.destroy();
  const sorted = Float64Array.from(latenciesUs).sort();
  const r = (v: number) => Math.round(v * 10) / 10;
  let sum = 0;
  for (const v of sorted) sum += v;
  process.stdout.write(JSON.stringify({
    tool: 'fixed-rate-load',
    rps_target: rps,
    connections,
    duration_ms: Math.round(elapsed),
    scheduled,
    completed: sorted.length,
    errors: errors + lost,
    non2xx,
    backlog_max: queuedMax,
    achieved_rps: r((sorted.length * 1000) / elapsed),
    latency_us: { p50: r(pct(sorted, 50)), p90: r(pct(sorted, 90)), p99: r(pct(sorted, 99)), p999: r(pct(sorted, 99.9)), mean: r(sum / Math.max(1, sorted.length)), max: r(sorted[sorted.length - 1] ?? NaN) },
  }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err}\n`);
  process.exit(1);
});
