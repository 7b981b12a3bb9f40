/**
 * Kubernetes objects for tests, created the way the kubelet and the endpoint controllers would
 * leave them (there is neither here): Nodes with topology labels, Pods with a status (phase,
 * podIP, Ready), EndpointSlices for a Service's pods.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { istioCrds } from '../../src/kube/install/install-crds.js';
import type { KubeApiServer } from '../helpers/kube-api-server.js';

export async function must(api: KubeApiServer, method: string, p: string, body?: unknown, type?: string): Promise<any> {
  const r = await api.request(method, p, body, type);
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
  return r.body;
}

/** kubectl apply of Clew's CRDs, then waits until they are Established. */
export async function applyCrds(api: KubeApiServer, dir: string): Promise<void> {
  const file = path.join(dir, 'crds.json');
  fs.writeFileSync(file, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: istioCrds() }));
  await api.kubectl(['apply', '-f', file]);
  // a CRD just created may have no status.conditions yet, which `kubectl wait` reports as an
  // error instead of waiting: ask again until all are Established
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=clew']);
      return;
    } catch (err) {
      if (Date.now() > end || !/status\.conditions accessor error/.test(String((err as { stderr?: string }).stderr ?? (err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function createNode(api: KubeApiServer, name: string, labels: Record<string, string>): Promise<void> {
  await must(api, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } });
}

export interface PodSpec {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  serviceAccount?: string;
  ip: string;
  node?: string;
  port?: number;
  annotations?: Record<string, string>;
}

/** Creates a pod and sets its status as a kubelet would once it runs (Running, podIP, Ready). */
export async function createRunningPod(api: KubeApiServer, p: PodSpec): Promise<void> {
  const ns = p.namespace ?? 'default';
  await must(api, 'POST', `/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, labels: p.labels, ...(p.annotations ? { annotations: p.annotations } : {}) },
    spec: {
      serviceAccountName: p.serviceAccount ?? 'default',
      automountServiceAccountToken: false,
      ...(p.node ? { nodeName: p.node } : {}),
      containers: [{ name: 'app', image: 'clew:latest', ports: [{ name: 'http', containerPort: p.port ?? 9080 }] }],
    },
  });
  await must(api, 'PATCH', `/api/v1/namespaces/${ns}/pods/${p.name}/status`, {
    status: {
      phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }],
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }],
    },
  }, 'application/merge-patch+json');
}

export interface SliceEndpoint {
  ip: string;
  pod: string;
  node?: string;
  zone?: string;
  ready?: boolean;
  terminating?: boolean;
}

export function sliceBody(service: string, name: string, endpoints: SliceEndpoint[], ns = 'default', port = 9080): unknown {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'clew-test' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port, protocol: 'TCP' }],
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: e.terminating ?? false },
      targetRef: { kind: 'Pod', name: e.pod, namespace: ns },
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
    })),
  };
}

export async function putSlice(api: KubeApiServer, service: string, name: string, endpoints: SliceEndpoint[], ns = 'default'): Promise<void> {
  const body = sliceBody(service, name, endpoints, ns);
  const r = await api.request('GET', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}`);
  if (r.status === 404) await must(api, 'POST', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, body);
  else await must(api, 'PUT', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${name}`, { ...(body as object), metadata: { ...(body as any).metadata, resourceVersion: r.body.metadata.resourceVersion } });
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
