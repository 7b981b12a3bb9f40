/**
 * The hostile side of the soak (bench/hostile-soak.ts), all at once and for the whole run, against
 * a sidecar's outbound listener and another sidecar's inbound listener:
 * - malformed requests: the hostile-input suite's cases (test/proxy/hostile/hostile-cases.ts:
 *   bad chunked bodies, smuggling shapes, codec edges, upgrades, path normalization, a
 *   catastrophic-backtracking regex path) as raw bytes, one connection each;
 * - unique hosts: keep-alive requests each with a Host never seen before, half of the
 *   connections on passthrough (`127.a.b.c:<port>`, a real upstream on every loopback address),
 *   half with unrouted names on a service port (`u<n>.example:<port>`, passthrough by name: a
 *   DNS lookup each);
 * - slow clients: headers one byte a second (slowloris), a body 100 bytes a second, and
 *   pipelined requests whose responses are not read for 20 s;
 * - an idle-connection flood: connections that send nothing, held open (reopened if the proxy
 *   closes them).
 *
 *   node dist/bench/soak-hostile-load.js --outbound HOST:PORT --inbound HOST:PORT
 *     --authority bench-mesh:8000 --passthrough-port N --service-port 8000
 *     [--malformed-rps 20] [--hosts-rps 100] [--slowloris 40] [--slow-body 20] [--slow-readers 10]
 *     [--idle 2000] [--report-ms 5000] [--duration-ms N]
 * Prints one JSON line per report interval ({"type":"hostile", ...}), the last with "final":true.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { ALL_CASES, type HostileCase } from '../test/proxy/hostile/hostile-cases.js';

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(name);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  if (dflt === undefined) throw new Error(`missing ${name}`);
  return dflt;
}

interface Addr { name: 'outbound' | 'inbound'; host: string; port: number }
function addr(name: Addr['name'], v: string): Addr {
  const i = v.lastIndexOf(':');
  return { name, host: v.slice(0, i), port: Number(v.slice(i + 1)) };
}

const outbound = addr('outbound', arg('--outbound'));
const inbound = addr('inbound', arg('--inbound'));
const authority = arg('--authority');
const passthroughPort = Number(arg('--passthrough-port'));
const servicePort = Number(arg('--service-port', '8000'));
const malformedRps = Number(arg('--malformed-rps', '20'));
const hostsRps = Number(arg('--hosts-rps', '100'));
const slowloris = Number(arg('--slowloris', '40'));
const slowBody = Number(arg('--slow-body', '20'));
const slowReaders = Number(arg('--slow-readers', '10'));
const idleCount = Number(arg('--idle', '2000'));
const reportMs = Number(arg('--report-ms', '5000'));
const durationMs = Number(arg('--duration-ms', String(Number.MAX_SAFE_INTEGER)));

let stopping = false;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const inc = (m: Record<string, number>, k: string, n = 1): void => { m[k] = (m[k] ?? 0) + n; };

export interface HostileReport {
  type: 'hostile';
  final: boolean;
  t: number;
  malformed: { sent: number; asExpected: number; otherStatus: number; noAnswerClosed: number; hung: number; errors: number; byStatus: Record<string, number>; unexpected: Record<string, number> };
  hosts: { sent: number; answered: number; byStatus: Record<string, number>; reconnects: number; errors: number };
  slowloris: { started: number; answered: number; closedByProxy: number; errors: number };
  slowBody: { started: number; answered: number; closedByProxy: number; errors: number };
  slowReaders: { started: number; responses: number; closedByProxy: number; errors: number };
  idle: { open: number; peakOpen: number; opened: number; closedByProxy: number; errors: number };
}

const rep: Omit<HostileReport, 'type' | 'final' | 't'> = {
  malformed: { sent: 0, asExpected: 0, otherStatus: 0, noAnswerClosed: 0, hung: 0, errors: 0, byStatus: {}, unexpected: {} },
  hosts: { sent: 0, answered: 0, byStatus: {}, reconnects: 0, errors: 0 },
  slowloris: { started: 0, answered: 0, closedByProxy: 0, errors: 0 },
  slowBody: { started: 0, answered: 0, closedByProxy: 0, errors: 0 },
  slowReaders: { started: 0, responses: 0, closedByProxy: 0, errors: 0 },
  idle: { open: 0, peakOpen: 0, opened: 0, closedByProxy: 0, errors: 0 },
};

/** every open socket, destroyed at the end */
const sockets = new Set<net.Socket>();
function connect(a: Addr): net.Socket {
  const s = net.connect(a.port, a.host);
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
  return s;
}

/** Status codes of the complete responses at the start of `buf`, and what is left after them. */
function takeResponses(buf: Buffer): { statuses: number[]; rest: Buffer } {
  const statuses: number[] = [];
  for (;;) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    const head = buf.toString('latin1', 0, end);
    let total = end + 4;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) total += Number(cl[1]);
    else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const term = buf.indexOf('\r\n0\r\n\r\n', end);
      if (term < 0) break;
      total = term + 7;
    }
    if (buf.length < total) break;
    statuses.push(Number(head.slice(9, 12)));
    buf = buf.subarray(total);
  }
  return { statuses, rest: buf };
}

/** One malformed case, raw bytes on a fresh connection: answered, closed, or hung (5 s). */
function malformedOne(c: HostileCase, a: Addr): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(a);
    let text = '';
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (how: 'closed' | 'deadline' | 'error' | 'answered'): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const status = m ? Number(m[1]) : 0;
      inc(rep.malformed.byStatus, String(status));
      if (how === 'deadline' && status === 0) rep.malformed.hung++;
      else if (how === 'error' && status === 0) rep.malformed.errors++;
      else if (c.status.includes(status)) rep.malformed.asExpected++;
      else if (status === 0) rep.malformed.noAnswerClosed++;
      else rep.malformed.otherStatus++;
      if (!c.status.includes(status)) inc(rep.malformed.unexpected, `${a.name}: ${c.name} → ${status || how}`);
      resolve();
    };
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      // cases that keep the connection open end with their first response
      if (c.closes === false && /\r\n\r\n/.test(text)) setTimeout(() => finish('answered'), 50);
    });
    s.on('error', () => finish('error'));
    s.on('close', () => finish('closed'));
    const parts = c.send(authority);
    const list = Array.isArray(parts) ? parts : [parts];
    s.once('connect', async () => {
      for (let i = 0; i < list.length && !done; i++) {
        if (i > 0) await sleep(30);
        s.write(list[i]);
      }
      timer = setTimeout(() => finish('deadline'), 5000);
    });
  });
}

async function malformedLoop(): Promise<void> {
  const cases = ALL_CASES.filter((c) => !c.only || c.only.includes('outbound') || c.only.includes('inbound'));
  let i = 0;
  const gap = 1000 / malformedRps;
  const start = performance.now();
  const pending = new Set<Promise<void>>();
  while (!stopping) {
    const c = cases[i % cases.length];
    const onOutbound = Math.floor(i / cases.length) % 2 === 0;
    let a = onOutbound ? outbound : inbound;
    if (c.only && !c.only.includes(a.name)) a = a === outbound ? inbound : outbound;
    i++;
    rep.malformed.sent++;
    const p = malformedOne(c, a).finally(() => pending.delete(p));
    pending.add(p);
    await sleep(Math.max(0, start + i * gap - performance.now()));
  }
  await Promise.all(pending);
}

let ipIndex = 0;
let nameIndex = 0;
/** A Host never used before: passthrough to 127.a.b.c, or an unrouted name on a service port. */
function nextHost(kind: 'ip' | 'name'): string {
  if (kind === 'ip') {
    const n = ipIndex++;
    return `127.${1 + ((n >> 16) % 254)}.${(n >> 8) & 255}.${n & 255}:${passthroughPort}`;
  }
  return `u${nameIndex++}.example:${servicePort}`;
}

/** One keep-alive connection sending unique-Host requests at its share of the rate. */
async function hostsConn(share: number, kind: 'ip' | 'name'): Promise<void> {
  const gap = 1000 / share;
  while (!stopping) {
    await new Promise<void>((resolve) => {
      const s = connect(outbound);
      let buf: Buffer = Buffer.alloc(0);
      let waiting = false;
      let next = performance.now();
      const send = async (): Promise<void> => {
        if (stopping) { s.destroy(); return; }
        await sleep(Math.max(0, next - performance.now()));
        next += gap;
        if (s.destroyed) return;
        rep.hosts.sent++;
        waiting = true;
        s.write(`GET /unique HTTP/1.1\r\nHost: ${nextHost(kind)}\r\nUser-Agent: clew-soak-hostile\r\n\r\n`);
      };
      s.on('connect', () => void send());
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        const r = takeResponses(buf);
        buf = r.rest;
        for (const st of r.statuses) {
          rep.hosts.answered++;
          inc(rep.hosts.byStatus, String(st));
          waiting = false;
          void send();
        }
      });
      s.on('error', () => { if (waiting) rep.hosts.errors++; });
      s.on('close', () => { rep.hosts.reconnects++; resolve(); });
    });
    if (!stopping) await sleep(100);
  }
}

type SlowStats = { started: number; answered: number; closedByProxy: number; errors: number };

/** A request written slowly: `head` then `drip` one piece a second; waits for the answer. */
async function slowLoop(stats: SlowStats, a: Addr, head: () => string, drip: string[], tail: string): Promise<void> {
  while (!stopping) {
    stats.started++;
    await new Promise<void>((resolve) => {
      const s = connect(a);
      let text = '';
      let answered = false;
      let ended = false;
      s.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (!answered && /\r\n\r\n/.test(text)) {
          answered = true;
          stats.answered++;
          s.destroy();
        }
      });
      s.on('error', (e: NodeJS.ErrnoException) => { if (!answered && !ended && e.code !== 'ECONNRESET' && e.code !== 'EPIPE') stats.errors++; });
      s.on('close', () => {
        if (!answered && !ended && !stopping) stats.closedByProxy++;
        resolve();
      });
      s.once('connect', async () => {
        s.write(head());
        for (const piece of drip) {
          await sleep(1000);
          if (s.destroyed || stopping) { ended = true; s.destroy(); return; }
          s.write(piece);
        }
        if (!s.destroyed) s.write(tail);
        // an answer is due now; a stuck one ends after 30 s
        setTimeout(() => { if (!answered) { ended = true; stats.errors++; s.destroy(); } }, 30_000);
      });
    });
    if (!stopping) await sleep(200);
  }
}

/** 100 pipelined requests whose responses are left unread for 20 s, then read. */
async function slowReaderLoop(): Promise<void> {
  const st = rep.slowReaders;
  while (!stopping) {
    st.started++;
    await new Promise<void>((resolve) => {
      const s = connect(outbound);
      let buf: Buffer = Buffer.alloc(0);
      let got = 0;
      let ended = false;
      s.on('data', (d: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, d]) : d;
        const r = takeResponses(buf);
        buf = r.rest;
        got += r.statuses.length;
        st.responses += r.statuses.length;
        if (got >= 100) { ended = true; s.destroy(); }
      });
      s.on('error', () => undefined);
      s.on('close', () => {
        if (!ended && !stopping) st.closedByProxy++;
        resolve();
      });
      s.once('connect', () => {
        s.pause();
        s.write(Array.from({ length: 100 }, (_, i) => `GET /pipelined-${i} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`).join(''));
        setTimeout(() => {
          s.resume();
          setTimeout(() => { if (!ended) { ended = true; st.errors++; s.destroy(); } }, 30_000);
        }, 20_000);
      });
    });
    if (!stopping) await sleep(200);
  }
}

/** Idle connections, half on each listener, reopened a second after the proxy closes one. */
async function idleFlood(): Promise<void> {
  const st = rep.idle;
  const open = (a: Addr): void => {
    if (stopping) return;
    const s = connect(a);
    let up = false;
    s.once('connect', () => { up = true; st.open++; st.opened++; st.peakOpen = Math.max(st.peakOpen, st.open); });
    s.on('error', () => { if (!up) st.errors++; });
    s.on('close', () => {
      if (up) st.open--;
      if (stopping) return;
      if (up) st.closedByProxy++;
      setTimeout(() => open(a), 1000);
    });
  };
  for (let i = 0; i < idleCount && !stopping; i++) {
    open(i % 2 === 0 ? outbound : inbound);
    if (i % 100 === 99) await sleep(100);
  }
}

async function main(): Promise<void> {
  const start = performance.now();
  const report = (final: boolean): void => {
    const r: HostileReport = { type: 'hostile', final, t: Math.round(performance.now() - start), ...rep };
    process.stdout.write(JSON.stringify(r) + '\n');
  };
  const reporter = setInterval(() => report(false), reportMs);
  process.once('SIGTERM', () => { stopping = true; });
  setTimeout(() => { stopping = true; }, Math.min(durationMs, 2 ** 31 - 1)).unref();
  const hostConns = 16;
  const loops: Array<Promise<void>> = [
    idleFlood(),
    malformedLoop(),
    ...Array.from({ length: hostConns }, (_, i) => hostsConn(hostsRps / hostConns, i % 2 ? 'name' : 'ip')),
    ...Array.from({ length: slowloris }, (_, i) => slowLoop(rep.slowloris, i % 2 ? inbound : outbound,
      () => `GET /slowloris HTTP/1.1\r\nHost: ${authority}\r\nX-Slow: `, Array.from({ length: 20 }, () => 'a'), '\r\n\r\n')),
    ...Array.from({ length: slowBody }, (_, i) => slowLoop(rep.slowBody, i % 2 ? inbound : outbound,
      () => `POST /slow-body HTTP/1.1\r\nHost: ${authority}\r\nContent-Type: text/plain\r\nContent-Length: 2000\r\n\r\n`, Array.from({ length: 20 }, () => 'b'.repeat(100)), '')),
    ...Array.from({ length: slowReaders }, () => slowReaderLoop()),
  ];
  // stagger nothing further: each loop paces itself; wait until told to stop
  while (!stopping) await sleep(200);
  // loops blocked on a slow exchange end when their sockets go
  for (const s of sockets) s.destroy();
  await Promise.race([Promise.all(loops), sleep(5000)]);
  clearInterval(reporter);
  report(true);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
