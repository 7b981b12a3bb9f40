/**
 * HTTP/1.1 Upgrade through the proxy: only a 101 from the upstream turns the downstream connection
 * into a tunnel; any other answer is relayed and the connection closed, client bytes sent before the
 * 101 are held (not lost, not sent early), and the access log records the real response code.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { outboundHttpListener, passthroughCluster, route, routeConfig, staticCluster, virtualOutbound, vhost } from './helpers/resources.js';
import { startHarness, waitFor, withTimeout, type Harness } from './helpers/harness.js';
import { fileAccessLog } from './telemetry/telemetry-mesh.js';

const cluster = (n: string): string => `outbound|8000||${n}.default.svc.cluster.local`;
const LOG = `/tmp/clew-upgrade-test-${process.pid}.log`;
const UPGRADE = (host: string, path = '/ws'): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;

/** A raw upstream: records every byte it receives; `onHead` runs once per connection when a request head is complete. */
interface RawUpstream {
  port: number;
  received: string[];
  server: net.Server;
}

function rawUpstream(onHead: (s: net.Socket, received: () => string) => void): Promise<RawUpstream> {
  const up: RawUpstream = { port: 0, received: [], server: net.createServer() };
  up.server.on('connection', (s) => {
    const idx = up.received.push('') - 1;
    let fired = false;
    s.on('error', () => undefined);
    s.on('data', (d) => {
      up.received[idx] += d.toString('latin1');
      if (!fired && up.received[idx].includes('\r\n\r\n')) {
        fired = true;
        onHead(s, () => up.received[idx]);
      }
    });
  });
  return new Promise((resolve) => up.server.listen(0, '127.0.0.1', () => resolve({ ...up, port: (up.server.address() as net.AddressInfo).port })));
}

let h: Harness;
let ok200: RawUpstream;
let eof404: RawUpstream;
let slow101: RawUpstream;
let wss: WebSocketServer;
let deadPort: number;
const slow101Timeline: string[] = [];

before(async () => {
  fs.writeFileSync(LOG, '');
  ok200 = await rawUpstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nplain'));
  // no content-length: the body runs until the upstream closes
  eof404 = await rawUpstream((s) => {
    s.write('HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n\r\nno websocket ');
    setTimeout(() => s.end('here'), 50);
  });
  // answers 101 only after 200 ms, then echoes what it receives in the tunnel
  slow101 = await rawUpstream((s, received) => {
    setTimeout(() => {
      slow101Timeline.push(`before-101:${received()}`);
      s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhello-from-upstream|');
      s.on('data', (d) => s.write(`echo:${d.toString('latin1')}|`));
    }, 200);
  });
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  wss.on('connection', (s, req) => s.on('message', (m) => s.send(`ws:${req.url}:${m.toString()}`)));
  await new Promise((r) => wss.once('listening', r));
  const dead = net.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
  deadPort = (dead.address() as net.AddressInfo).port;
  await new Promise((r) => dead.close(r));
  const ups: Array<[string, number]> = [['ok200', ok200.port], ['eof404', eof404.port], ['slow101', slow101.port], ['ws', (wss.address() as net.AddressInfo).port], ['dead', deadPort]];
  h = await startHarness({
    clusters: [...ups.map(([n, p]) => staticCluster(cluster(n), [['127.0.0.1', p]])), passthroughCluster()],
    endpoints: [],
    listeners: [virtualOutbound(0), outboundHttpListener(8000, undefined, { access_log: [fileAccessLog(LOG, { text: '%REQ(:AUTHORITY)% %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS%\n' })] })],
    routes: [routeConfig('8000', ups.map(([n]) => vhost(n, [`${n}:8000`], [route({ prefix: '/' }, cluster(n))])))],
  });
});

after(async () => {
  await h.close();
  for (const u of [ok200, eof404, slow101]) u.server.close();
  wss.close();
  fs.rmSync(LOG, { force: true });
});

/** Writes `parts` with `gapMs` between them; resolves with everything read and whether the proxy closed the connection. */
function rawClient(parts: string[], gapMs: number, waitMs: number): Promise<{ text: string; closedByProxy: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(h.outbound, '127.0.0.1');
    let text = '';
    let closedByProxy = false;
    s.on('data', (c) => (text += c.toString('latin1')));
    s.on('end', () => (closedByProxy = true));
    s.on('error', () => undefined);
    s.on('connect', async () => {
      for (const p of parts) {
        if (!s.destroyed && s.writable) s.write(p);
        await new Promise((r) => setTimeout(r, gapMs));
      }
    });
    const t = setTimeout(() => s.destroy(), waitMs);
    s.on('close', () => {
      clearTimeout(t);
      resolve({ text, closedByProxy });
    });
  });
}

/** the payload of a complete chunked body */
function dechunk(s: string): string {
  let out = '';
  for (let i = 0; ;) {
    const nl = s.indexOf('\r\n', i);
    const n = parseInt(s.slice(i, nl), 16);
    if (!(n > 0)) return out;
    out += s.slice(nl + 2, nl + 2 + n);
    i = nl + 2 + n + 2;
  }
}

async function logLine(authority: string, path: string): Promise<string> {
  let line = '';
  await waitFor(() => {
    line = fs.readFileSync(LOG, 'utf8').split('\n').find((l) => l.startsWith(`${authority} ${path} `)) ?? '';
    return line !== '';
  }, 3000, `access log line for ${authority}${path}`);
  return line;
}

test('upstream answers 200 to an upgrade: the client gets the 200, the connection closes, a second request never reaches the upstream raw', async () => {
  const before = ok200.received.length;
  const r = await withTimeout(rawClient([UPGRADE('ok200:8000', '/up200'), 'GET /admin/secret HTTP/1.1\r\nHost: some-other-host\r\n\r\n'], 50, 2500), 3000, 'client');
  assert.match(r.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(r.text.endsWith('\r\n\r\nplain'), `the relayed response ends with its body: ${JSON.stringify(r.text)}`);
  assert.equal((r.text.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'exactly one response');
  assert.ok(r.closedByProxy, 'the proxy closes the downstream connection after a non-101 answer');
  await new Promise((res) => setTimeout(res, 100));
  const seen = ok200.received.slice(before).join('');
  assert.match(seen, /^GET \/up200 HTTP\/1\.1\r\n/);
  assert.doesNotMatch(seen, /admin\/secret/);
  assert.match(await logLine('ok200:8000', '/up200'), / 200 -$/);
});

test('a non-101 answer with an EOF-delimited body is relayed whole (framed by the proxy as any response), then the connection closes', async () => {
  const r = await withTimeout(rawClient([UPGRADE('eof404:8000', '/eof')], 10, 2500), 3000, 'client');
  assert.match(r.text, /^HTTP\/1\.1 404 Not Found\r\n[^]*transfer-encoding: chunked\r\n[^]*connection: close\r\n/);
  const body = r.text.slice(r.text.indexOf('\r\n\r\n') + 4);
  assert.equal(dechunk(body), 'no websocket here', JSON.stringify(r.text));
  assert.ok(r.closedByProxy);
  assert.match(await logLine('eof404:8000', '/eof'), / 404 -$/);
});

test('a real WebSocket works end to end through the proxy and is logged as 101', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${h.outbound}/chat`, { headers: { host: 'ws:8000' } });
  const msgs: string[] = [];
  await withTimeout(new Promise<void>((resolve, reject) => {
    ws.on('open', () => ws.send('one'));
    ws.on('message', (m) => {
      msgs.push(m.toString());
      if (msgs.length === 1) ws.send('two');
      else resolve();
    });
    ws.on('error', reject);
  }), 3000, 'websocket exchange');
  assert.deepEqual(msgs, ['ws:/chat:one', 'ws:/chat:two']);
  await withTimeout(new Promise((r) => { ws.once('close', r); ws.close(); }), 3000, 'websocket close');
  assert.match(await logLine('ws:8000', '/chat'), / 101 -$/);
});

test('client bytes sent before the upstream 101 are held, then delivered after it (not lost, not early)', async () => {
  slow101Timeline.length = 0;
  // 'early' rides in the same segment as the request head; 'later' comes 50 ms later, still before the 101
  const r = await withTimeout(rawClient([UPGRADE('slow101:8000', '/slow') + 'early|', 'later|', '', '', '', '', 'after-101|'], 50, 800), 3000, 'client');
  assert.equal(slow101Timeline.length, 1);
  assert.ok(slow101Timeline[0].endsWith('\r\n\r\n'), `the upstream saw only the request head before its 101: ${JSON.stringify(slow101Timeline[0])}`);
  const upstreamSaw = slow101.received.at(-1) ?? '';
  assert.match(upstreamSaw, /\r\n\r\nearly\|later\|after-101\|$/);
  assert.match(r.text, /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\nhello-from-upstream\|/);
  // 'early' and 'later' reach the upstream in order, in one segment or two (the echo shows which)
  assert.match(r.text, /echo:early\|(\|echo:)?later\|/);
  assert.match(r.text, /echo:after-101\|/);
  assert.match(await logLine('slow101:8000', '/slow'), / 101 -$/);
});

test('upstream connect failure: 503 UF, logged as 503 (not 101)', async () => {
  const r = await withTimeout(rawClient([UPGRADE('dead:8000', '/dead')], 10, 2500), 3000, 'client');
  assert.match(r.text, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(r.text, /reset reason: connection failure$/);
  assert.ok(r.closedByProxy);
  assert.match(await logLine('dead:8000', '/dead'), / 503 UF$/);
});
