/**
 * Istio's probe rewriting (`sidecar.istio.io/rewriteAppHTTPProbers`, on unless "false"): each app
 * container's httpGet, tcpSocket and grpc liveness/readiness/startup probes become an HTTP GET of
 * the sidecar's status port, `/app-health/<container>/livez|readyz|startupz` on 15020, and the
 * original probes go to the sidecar in ISTIO_KUBE_APP_PROBERS, which runs them against the app
 * (the kubelet's own probe would be refused by STRICT mTLS). Timing fields are kept; exec probes
 * are left alone. Named ports are resolved against the container's ports.
 */
import type { KubeObject } from '../kube-client.js';
import type { AppProber } from '../../proxy/admin/app-probes.js';
import { InjectError } from './inject-errors.js';

export const REWRITE_ANNOTATION = 'sidecar.istio.io/rewriteAppHTTPProbers';
export const STATUS_PORT = 15020;
const KINDS = [['livenessProbe', 'livez'], ['readinessProbe', 'readyz'], ['startupProbe', 'startupz']] as const;

function resolvePort(c: any, p: unknown, where: string): number {
  if (typeof p === 'number' && Number.isInteger(p) && p > 0 && p < 65536) return p;
  if (typeof p === 'string' && /^\d+$/.test(p)) return resolvePort(c, Number(p), where);
  if (typeof p === 'string') {
    const named = (c.ports ?? []).find((x: any) => x.name === p);
    if (named && Number.isInteger(named.containerPort)) return named.containerPort;
    throw new InjectError(`${where}.port: no container port named ${JSON.stringify(p)}`);
  }
  throw new InjectError(`${where}.port: expected a port number or name, got ${JSON.stringify(p)}`);
}

export function rewriteEnabled(md: KubeObject['metadata']): boolean {
  const v = md.annotations?.[REWRITE_ANNOTATION];
  if (v === undefined) return true;
  if (v !== 'true' && v !== 'false') throw new InjectError(`annotation ${REWRITE_ANNOTATION}: "true" or "false", got ${JSON.stringify(v)}`);
  return v === 'true';
}

/** The app containers with rewritten probes, and the original probes by status path (empty: none rewritten). */
export function rewriteProbes(containers: any[]): { containers: any[]; probers: Record<string, AppProber> } {
  const probers: Record<string, AppProber> = {};
  const out = containers.map((c, i) => {
    const copy = { ...c };
    for (const [field, suffix] of KINDS) {
      const probe = c[field];
      if (!probe || typeof probe !== 'object') continue;
      const where = `spec.containers[${i}].${field}`;
      const { httpGet, tcpSocket, grpc, exec, ...timing } = probe;
      if (exec || (!httpGet && !tcpSocket && !grpc)) continue;
      const path = `/app-health/${c.name}/${suffix}`;
      const prober: AppProber = {};
      if (probe.timeoutSeconds !== undefined) prober.timeoutSeconds = probe.timeoutSeconds;
      if (httpGet) {
        prober.httpGet = {
          path: httpGet.path ?? '/', port: resolvePort(c, httpGet.port, `${where}.httpGet`),
          ...(httpGet.scheme ? { scheme: httpGet.scheme } : {}), ...(httpGet.host ? { host: httpGet.host } : {}),
          ...(httpGet.httpHeaders ? { httpHeaders: httpGet.httpHeaders } : {}),
        };
      } else if (tcpSocket) {
        prober.tcpSocket = { port: resolvePort(c, tcpSocket.port, `${where}.tcpSocket`), ...(tcpSocket.host ? { host: tcpSocket.host } : {}) };
      } else {
        prober.grpc = { port: resolvePort(c, grpc.port, `${where}.grpc`), ...(grpc.service ? { service: grpc.service } : {}) };
      }
      probers[path] = prober;
      copy[field] = { ...timing, httpGet: { path, port: STATUS_PORT, scheme: 'HTTP' } };
    }
    return copy;
  });
  return { containers: out, probers };
}
