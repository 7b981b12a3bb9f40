/** Shared test data: Bookinfo identities, StreamInfos, a Prometheus text parser, HTTP receivers. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyIdentity } from '../../../src/xds/node-metadata.js';
import { newStreamInfo, type StreamInfo } from '../../../src/proxy/core/stream-info.js';

export function identity(name: string, app: string, version: string, sa: string, address: string): ProxyIdentity {
  return {
    type: 'sidecar',
    name,
    namespace: 'default',
    address,
    labels: { app, version },
    serviceAccount: sa,
    interceptionMode: 'NONE',
    podPorts: [{ name: 'http', containerPort: 9080 }],
    appPorts: {},
  };
}

export const PRODUCTPAGE = identity('productpage-v1', 'productpage', 'v1', 'bookinfo-productpage', '127.0.1.1');
export const REVIEWS = identity('reviews-v2', 'reviews', 'v2', 'bookinfo-reviews', '127.0.1.3');

export function httpInfo(over: Partial<StreamInfo> & { direction: 'inbound' | 'outbound' }): StreamInfo {
  const info = newStreamInfo(over.direction, 'HTTP/1.1');
  Object.assign(info, {
    startTime: Date.UTC(2024, 5, 2, 13, 24, 57, 930),
    method: 'GET',
    path: '/reviews/0',
    authority: 'reviews:9080',
    responseCode: 200,
    bytesReceived: 0,
    bytesSent: 358,
    durationMs: 12.4,
    requestHeaders: { 'user-agent': 'curl/8.0', 'x-request-id': '9f69865b-eed1-409b-8c12-12436234a191' },
    upstreamCluster: 'outbound|9080||reviews.default.svc.cluster.local',
    upstreamHost: '127.0.1.3:9080',
    downstreamRemoteAddress: '127.0.1.1:40312',
    downstreamLocalAddress: '127.0.1.1:9080',
    routeName: 'default',
  });
  return Object.assign(info, over);
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format 0.0.4 (enough of it to check our own output strictly). */
export function parseProm(text: string): { types: Map<string, string>; helps: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      if (types.has(m[1])) throw new Error(`duplicate TYPE for ${m[1]}`);
      types.set(m[1], m[2]);
      continue;
    }
    m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      helps.set(m[1], m[2]);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      const body = m[2].slice(1, -1);
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let pos = 0;
      while (pos < body.length) {
        re.lastIndex = pos;
        const lm = re.exec(body);
        if (!lm) throw new Error(`bad labels: ${m[2]}`);
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(v) && m[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1], labels, value: v });
  }
  return { types, helps, samples };
}

export interface Receiver {
  url: string;
  bodies: unknown[];
  paths: string[];
  /** when true, requests are accepted but never answered */
  stall: boolean;
  close(): Promise<void>;
}

/** An HTTP collector on 127.0.0.1 that records JSON bodies. */
export async function startReceiver(): Promise<Receiver> {
  const pending: http.ServerResponse[] = [];
  const r: Receiver = {
    url: '',
    bodies: [],
    paths: [],
    stall: false,
    close: async () => {
      for (const res of pending) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.stall) {
        pending.push(res);
        return;
      }
      r.paths.push(req.url ?? '');
      r.bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

/** Waits until cond() is true, polling every 5 ms, failing after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}
