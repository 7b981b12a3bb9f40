/**
 * Path normalization through a real proxy (issue 23 item 4): `/public/../secret.txt` and
 * `/public/%2e%2e/secret.txt` must not ride a `/public/` prefix route to the backend. Raw sockets
 * send the exact bytes; the echo backend records what it was sent. One listener per HCM setting.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { EnvoyResource } from '../../../src/xds/codec.js';
import { assignment, edsCluster, outboundHttpListener, passthroughCluster, route, routeConfig, virtualOutbound, vhost } from '../helpers/resources.js';
import { startHarness, waitFor, type Harness } from '../helpers/harness.js';
import { LISTENER_TYPE } from '../helpers/static-xds.js';
import { startEcho, type EchoServer } from '../helpers/upstreams.js';

const PUBLIC = 'outbound|80||public.default.svc.cluster.local';
const BASE = { normalize_path: { value: true }, path_with_escaped_slashes_action: 'KEEP_UNCHANGED' };
/** port -> HCM path options */
const LISTENERS: Record<number, EnvoyResource> = {
  9080: BASE,
  9081: { normalize_path: { value: true }, path_with_escaped_slashes_action: 'REJECT_REQUEST' },
  9082: { normalize_path: { value: true }, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_REDIRECT' },
  9083: { normalize_path: { value: true }, merge_slashes: true, path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' },
  9084: {}, // Envoy's defaults: nothing normalized
};
let pub: EchoServer;
let h: Harness;

function listeners(extra: Record<number, EnvoyResource> = {}): EnvoyResource[] {
  return [virtualOutbound(0), ...Object.entries({ ...LISTENERS, ...extra }).map(([port, opts]) => outboundHttpListener(Number(port), undefined, opts))];
}

before(async () => {
  pub = await startEcho('public');
  h = await startHarness({
    clusters: [edsCluster(PUBLIC), passthroughCluster()],
    endpoints: [assignment(PUBLIC, [['127.0.0.1', pub.port]])],
    listeners: listeners(),
    // only /public/ is routed: everything else is 404
    routes: Object.keys(LISTENERS).map((port) => routeConfig(port, [vhost('svc', [`svc:${port}`], [route({ prefix: '/public/' }, PUBLIC)])])),
  });
});

after(async () => {
  await h.close();
  await pub.close();
});

interface RawResponse {
  status: number;
  head: string;
}

/** One request as exact bytes on a new connection; the response head. */
function raw(port: number, target: string, extraHeaders = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(h.outbound, '127.0.0.1');
    let data = '';
    sock.setTimeout(5000, () => sock.destroy(new Error('timeout')));
    sock.on('error', reject);
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('close', () => {
      const head = data.split('\r\n\r\n')[0];
      resolve({ status: Number(head.split(' ')[1]), head });
    });
    sock.write(`GET ${target} HTTP/1.1\r\nhost: svc:${port}\r\nconnection: close\r\n${extraHeaders}\r\n`, 'latin1');
  });
}

/** The paths the backend was sent by the requests that fn makes. */
async function backendSaw(fn: () => Promise<unknown>): Promise<string[]> {
  const before = pub.requests.length;
  await fn();
  return pub.requests.slice(before).map((r) => r.url);
}

async function stat(name: string): Promise<number> {
  const line = (await h.admin('/stats')).body.split('\n').find((l) => l.startsWith(`${name}: `));
  return line ? Number(line.slice(name.length + 2)) : 0;
}

test('traversal out of a prefix route is normalized away before routing (normalize_path)', async () => {
  const traversals = ['/public/../secret.txt', '/public/%2e%2e/secret.txt', '/public/%2E%2E/secret.txt', '/public/.%2e/secret.txt',
    '/public/..\\secret.txt', '/public/a/../../secret.txt', '/public/../secret.txt?x=/public/'];
  const seen = await backendSaw(async () => {
    for (const p of traversals) assert.equal((await raw(9080, p)).status, 404, p);
  });
  assert.deepEqual(seen, [], 'the backend was never asked for the secret');
  // within the route: the backend sees the normalized path, query untouched
  const ok = await backendSaw(async () => {
    assert.equal((await raw(9080, '/public/./a/../b.txt?next=/../x')).status, 200);
    assert.equal((await raw(9080, '/public/%7euser/%41.txt#frag')).status, 200);
    assert.equal((await raw(9080, '/public/..%2fsecret.txt')).status, 200);
  });
  assert.deepEqual(ok, ['/public/b.txt?next=/../x', '/public/~user/A.txt', '/public/..%2fsecret.txt']);
});

test('a NUL in the path is a 400, counted as failed path normalization', async () => {
  const before = await stat('http.9080.downstream_rq_failed_path_normalization');
  assert.equal((await raw(9080, '/public/a%00b')).status, 400);
  assert.equal(await stat('http.9080.downstream_rq_failed_path_normalization'), before + 1);
});

test('escaped slashes: REJECT_REQUEST 400, UNESCAPE_AND_REDIRECT 307, UNESCAPE_AND_FORWARD, KEEP_UNCHANGED', async () => {
  assert.equal((await raw(9081, '/public/a%2Fb')).status, 400);
  assert.equal((await raw(9081, '/public/a%5cb')).status, 400);
  assert.equal((await raw(9081, '/public/a/b')).status, 200);
  const redirect = await raw(9082, '/public%2f..%2f/secret.txt');
  assert.equal(redirect.status, 307);
  assert.match(redirect.head, /\r\nlocation: \/secret\.txt\r\n/i);
  assert.equal(await stat('http.9082.downstream_rq_redirected_with_normalized_path'), 1);
  const fwd = await backendSaw(async () => {
    assert.equal((await raw(9083, '/public%2F..%2F..%2Fsecret.txt')).status, 404);
    assert.equal((await raw(9083, '/public%2Fa%5cb//c')).status, 200);
  });
  assert.deepEqual(fwd, ['/public/a/b/c']);
  const kept = await backendSaw(async () => assert.equal((await raw(9080, '/public/a%2Fb')).status, 200));
  assert.deepEqual(kept, ['/public/a%2Fb']);
});

test("without normalize_path (Envoy's default) the path is forwarded as sent", async () => {
  const seen = await backendSaw(async () => assert.equal((await raw(9084, '/public/../secret.txt')).status, 200));
  assert.deepEqual(seen, ['/public/../secret.txt']);
});

test('an Upgrade request is normalized like any other', async () => {
  const seen = await backendSaw(async () => {
    assert.equal((await raw(9080, '/public/../secret', 'upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n')).status, 404);
  });
  assert.deepEqual(seen, []);
});

test('NACK: path_normalization_options and an unknown escaped-slashes action', async () => {
  for (const [bad, why] of [
    [{ path_normalization_options: { forwarding_transformation: { operations: [] } } }, /path_normalization_options is not supported/],
    [{ path_with_escaped_slashes_action: 99 }, /path_with_escaped_slashes_action: unknown value 99/],
  ] as Array<[EnvoyResource, RegExp]>) {
    const n = h.xds.nacks.length;
    h.xds.set(LISTENER_TYPE, listeners({ 9085: bad }));
    await waitFor(() => h.xds.nacks.length > n, 3000, 'LDS NACK');
    assert.match(h.xds.nacks[h.xds.nacks.length - 1].error!, why);
  }
  h.xds.set(LISTENER_TYPE, listeners());
  assert.equal((await raw(9080, '/public/../secret.txt')).status, 404, 'the last good listeners still normalize');
});
