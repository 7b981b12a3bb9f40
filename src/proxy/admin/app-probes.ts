/**
 * The sidecar's status port (istio-agent's 15020) answering the kubelet's rewritten probes:
 * `GET /app-health/<container>/livez|readyz|startupz` runs the app's original probe from
 * ISTIO_KUBE_APP_PROBERS (set by the injector, JSON: path -> {httpGet|tcpSocket|grpc,
 * timeoutSeconds}) against the app in the pod and answers 200 when it passes, 500 when it fails,
 * 404 for a path the injector did not write. The probe is made by the sidecar (uid 1337, not
 * captured), so it works when mTLS is STRICT, which is why Istio rewrites probes.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';

export interface AppProber {
  httpGet?: { path?: string; port: number; host?: string; scheme?: 'HTTP' | 'HTTPS'; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number; host?: string };
  grpc?: { port: number; service?: string };
  timeoutSeconds?: number;
}

export class AppProbersError extends Error {
  readonly code = 'APP_PROBERS_INVALID';
  constructor(message: string) {
    super(`ISTIO_KUBE_APP_PROBERS: ${message}`);
    this.name = 'AppProbersError';
  }
}

const PATH = /^\/app-health\/[^/]+\/(livez|readyz|startupz)$/;
/** the injector writes at most three per container; anything bigger is refused */
const MAX_PROBERS = 256;

function port(v: unknown, where: string): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) throw new AppProbersError(`${where}.port: expected a port number, got ${JSON.stringify(v)}`);
  return v as number;
}

/** Parses and checks the injector's JSON (refused as a whole when anything is off). */
export function parseAppProbers(text: string): Map<string, AppProber> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new AppProbersError(`not JSON: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new AppProbersError('expected an object of probe paths');
  const out = new Map<string, AppProber>();
  for (const [p, v] of Object.entries(raw as Record<string, any>)) {
    if (!PATH.test(p)) throw new AppProbersError(`${JSON.stringify(p)}: expected /app-health/<container>/livez|readyz|startupz`);
    if (out.size >= MAX_PROBERS) throw new AppProbersError(`more than ${MAX_PROBERS} probes`);
    const kinds = ['httpGet', 'tcpSocket', 'grpc'].filter((k) => v?.[k] !== undefined);
    if (kinds.length !== 1) throw new AppProbersError(`${p}: expected exactly one of httpGet, tcpSocket, grpc`);
    const t = v.timeoutSeconds;
    if (t !== undefined && (!Number.isInteger(t) || t < 1)) throw new AppProbersError(`${p}.timeoutSeconds: expected a whole number of seconds`);
    const prober: AppProber = { timeoutSeconds: t };
    if (v.httpGet) {
      const h = v.httpGet;
      const scheme = (h.scheme ?? 'HTTP').toUpperCase();
      if (scheme !== 'HTTP' && scheme !== 'HTTPS') throw new AppProbersError(`${p}.httpGet.scheme: HTTP or HTTPS`);
      if (h.path !== undefined && (typeof h.path !== 'string' || !h.path.startsWith('/'))) throw new AppProbersError(`${p}.httpGet.path: expected an absolute path`);
      prober.httpGet = { path: h.path ?? '/', port: port(h.port, `${p}.httpGet`), scheme, host: h.host, httpHeaders: Array.isArray(h.httpHeaders) ? h.httpHeaders : undefined };
    } else if (v.tcpSocket) {
      prober.tcpSocket = { port: port(v.tcpSocket.port, `${p}.tcpSocket`), host: v.tcpSocket.host };
    } else {
      prober.grpc = { port: port(v.grpc.port, `${p}.grpc`), service: typeof v.grpc.service === 'string' ? v.grpc.service : '' };
    }
    out.set(p, prober);
  }
  return out;
}

function httpProbe(h: NonNullable<AppProber['httpGet']>, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { 'user-agent': 'kube-probe/clew' };
    for (const x of h.httpHeaders ?? []) if (x?.name) headers[x.name] = String(x.value ?? '');
    const mod = h.scheme === 'HTTPS' ? https : http;
    // the kubelet does not verify an HTTPS probe's certificate either
    const req = mod.request({ host: h.host || host, port: h.port, path: h.path, method: 'GET', headers, timeout: timeoutMs, ...(h.scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}) }, (res) => {
      // the app may close mid-body: the answer is already decided by the status line
      res.on('error', () => undefined);
      res.resume();
      resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

function tcpProbe(t: NonNullable<AppProber['tcpSocket']>, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host || host, port: t.port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

/** grpc.health.v1.Health/Check: HealthCheckRequest {service = 1}, answer SERVING (1) in field 1. */
function grpcProbe(g: NonNullable<AppProber['grpc']>, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const client = new grpc.Client(`${host}:${g.port}`, grpc.credentials.createInsecure());
    const service = Buffer.from(g.service ?? '');
    const encode = (): Buffer => (service.length ? Buffer.concat([Buffer.from([0x0a, service.length]), service]) : Buffer.alloc(0));
    // HealthCheckResponse: field 1 (varint) is the status; an empty message is UNKNOWN (0)
    const decode = (b: Buffer): number => (b.length >= 2 && b[0] === 0x08 ? b[1] : 0);
    if (service.length > 127) {
      client.close();
      resolve(false);
      return;
    }
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', encode, decode, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, status) => {
      client.close();
      resolve(!err && status === 1);
    });
  });
}

/** Runs one probe against the app (at `appHost`, the pod's own address). */
export function runAppProbe(p: AppProber, appHost: string): Promise<boolean> {
  const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
  if (p.httpGet) return httpProbe(p.httpGet, appHost, timeoutMs);
  if (p.tcpSocket) return tcpProbe(p.tcpSocket, appHost, timeoutMs);
  return grpcProbe(p.grpc!, appHost, timeoutMs);
}

/** The status port's handler: /app-health/... only. */
export function appProbeHandler(probers: Map<string, AppProber>, appHost: string): http.RequestListener {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const prober = req.method === 'GET' ? probers.get(path) : undefined;
    if (!prober) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such probe\n');
      return;
    }
    void runAppProbe(prober, appHost).then((ok) => {
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : 'probe failed\n');
    });
  };
}
