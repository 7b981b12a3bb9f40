/**
 * Sidecar injection as a pure function of a pod (or pod template) and the injector's settings,
 * shared by the mutating webhook (`/inject`) and `clew kube-inject`: Istio's init container
 * (`istio-init`, here `clew iptables` with the pod's traffic annotations), the `istio-proxy`
 * sidecar (`clew proxy` with the pod's identity from the downward API, a projected
 * service-account token of audience `istio-ca` and the mesh root certificate), as a native
 * sidecar (an init container with restartPolicy Always) when the API server supports it, and
 * the `sidecar.istio.io/status` annotation saying what was added.
 */
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from '../kube-client.js';
import { STATUS_ANNOTATION } from './inject-policy.js';
import { InjectError } from './inject-errors.js';
import { rewriteEnabled, rewriteProbes } from './inject-probes.js';

export interface InjectSettings {
  /** Clew's image (Dockerfile) */
  image: string;
  /** where the sidecar's ADS and certificate requests go (istiod's 15012, TLS) */
  xdsAddress: string;
  /** restartable init container instead of a regular container (Kubernetes 1.29+) */
  nativeSidecar: boolean;
  /** the proxy's uid/gid, exempt from capture (Istio's 1337) */
  proxyUid: number;
  revision: string;
  imagePullPolicy?: string;
  /**
   * MeshConfig `defaultConfig.holdApplicationUntilProxyStarts`: the app containers start only once
   * the sidecar is ready (a pod's `proxy.istio.io/config` annotation overrides it either way)
   */
  holdApplicationUntilProxyStarts?: boolean;
}

export const DEFAULT_INJECT_SETTINGS: InjectSettings = {
  image: 'clew:latest',
  xdsAddress: 'istiod.istio-system.svc:15012',
  nativeSidecar: true,
  proxyUid: 1337,
  revision: 'default',
};

export { InjectError };

const A = {
  includeOutboundIPRanges: 'traffic.sidecar.istio.io/includeOutboundIPRanges',
  excludeOutboundIPRanges: 'traffic.sidecar.istio.io/excludeOutboundIPRanges',
  includeInboundPorts: 'traffic.sidecar.istio.io/includeInboundPorts',
  excludeInboundPorts: 'traffic.sidecar.istio.io/excludeInboundPorts',
  includeOutboundPorts: 'traffic.sidecar.istio.io/includeOutboundPorts',
  excludeOutboundPorts: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  interceptionMode: 'sidecar.istio.io/interceptionMode',
  nativeSidecar: 'sidecar.istio.io/nativeSidecar',
  proxyConfig: 'proxy.istio.io/config',
} as const;

/** Ports of the sidecar itself, never captured inbound (Istio's -d 15090,15021,15020). */
const SIDECAR_PORTS = ['15090', '15021', '15020'];
const TOKEN_DIR = '/var/run/secrets/tokens';
const ROOT_DIR = '/var/run/secrets/istio';

const PORT_LIST = /^(\*|\d{1,5}(,\d{1,5})*)?$/;
const CIDR_LIST = /^(\*|[0-9a-fA-F:.]+\/\d{1,3}(,[0-9a-fA-F:.]+\/\d{1,3})*)?$/;

function annotation(md: KubeObject['metadata'], key: string, pattern: RegExp): string | undefined {
  const v = md.annotations?.[key];
  if (v === undefined) return undefined;
  const s = v.replace(/\s+/g, '');
  if (!pattern.test(s)) throw new InjectError(`annotation ${key}: ${JSON.stringify(v)} is not a valid list`);
  return s;
}

function holdApplication(md: KubeObject['metadata'], meshDefault: boolean): boolean {
  const text = md.annotations?.[A.proxyConfig];
  if (!text) return meshDefault;
  let cfg: any;
  try {
    cfg = parseYaml(text);
  } catch (err) {
    throw new InjectError(`annotation ${A.proxyConfig}: not YAML: ${(err as Error).message}`);
  }
  if (cfg !== null && cfg !== undefined && (typeof cfg !== 'object' || Array.isArray(cfg))) throw new InjectError(`annotation ${A.proxyConfig}: expected a ProxyConfig mapping`);
  const v = cfg?.holdApplicationUntilProxyStarts;
  if (v === undefined || v === null) return meshDefault;
  if (typeof v !== 'boolean') throw new InjectError(`annotation ${A.proxyConfig}: holdApplicationUntilProxyStarts: expected true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** MeshConfig `defaultConfig.holdApplicationUntilProxyStarts` (false when unset). */
export function meshHoldApplication(mesh: { defaultConfig?: Record<string, unknown> } | undefined): boolean {
  return mesh?.defaultConfig?.holdApplicationUntilProxyStarts === true;
}

/** `app=reviews,version=v1` for `clew proxy --labels` (label values cannot hold `,` or `=`). */
function labelArg(labels: Record<string, string>): string {
  return Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The containers, volumes and annotations injection adds to one pod (template). */
export function injectPod(pod: KubeObject, settings: InjectSettings = DEFAULT_INJECT_SETTINGS): KubeObject {
  const md = pod.metadata ?? ({} as KubeObject['metadata']);
  const spec = pod.spec ?? {};
  const containers: any[] = spec.containers ?? [];
  if (containers.length === 0) throw new InjectError('spec.containers: a pod needs at least one container');
  for (const c of [...containers, ...(spec.initContainers ?? [])]) {
    if (c?.name === 'istio-proxy' || c?.name === 'istio-init') throw new InjectError(`spec: a container named ${c.name} is already there`);
  }
  const mode = (md.annotations?.[A.interceptionMode] ?? 'REDIRECT').toUpperCase();
  if (mode !== 'REDIRECT' && mode !== 'TPROXY' && mode !== 'NONE') throw new InjectError(`annotation ${A.interceptionMode}: ${mode} (REDIRECT, TPROXY or NONE)`);
  const nativeAnn = md.annotations?.[A.nativeSidecar];
  const native = nativeAnn === undefined ? settings.nativeSidecar : nativeAnn === 'true';
  const hold = holdApplication(md, settings.holdApplicationUntilProxyStarts === true);
  // the app's probes go through the sidecar's status port (Istio's rewriteAppHTTPProbers)
  const rewritten = rewriteEnabled(md) ? rewriteProbes(containers) : { containers, probers: {} };
  const probersJson = Object.keys(rewritten.probers).length ? JSON.stringify(rewritten.probers) : undefined;
  const uid = String(settings.proxyUid);

  const appPorts = [...new Set(containers.flatMap((c) => (c.ports ?? []).filter((p: any) => (p.protocol ?? 'TCP') === 'TCP').map((p: any) => p.containerPort as number)))]
    .filter((p) => Number.isInteger(p)).sort((a, b) => a - b);
  const labels: Record<string, string> = { ...(md.labels ?? {}) };

  const excludeIn = [...SIDECAR_PORTS, ...(annotation(md, A.excludeInboundPorts, PORT_LIST)?.split(',').filter(Boolean) ?? [])];
  const initArgs = [
    'iptables', '-p', '15001', '-z', '15006', '-u', uid, '-m', mode,
    '-i', annotation(md, A.includeOutboundIPRanges, CIDR_LIST) ?? '*',
    '-x', annotation(md, A.excludeOutboundIPRanges, CIDR_LIST) ?? '',
    '-b', annotation(md, A.includeInboundPorts, PORT_LIST) ?? '*',
    '-d', [...new Set(excludeIn)].join(','),
  ];
  const inclOutPorts = annotation(md, A.includeOutboundPorts, PORT_LIST);
  if (inclOutPorts) initArgs.push('-q', inclOutPorts);
  const exclOutPorts = annotation(md, A.excludeOutboundPorts, PORT_LIST);
  if (exclOutPorts) initArgs.push('-o', exclOutPorts);

  const init = {
    name: 'istio-init', image: settings.image, args: initArgs,
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    securityContext: {
      runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, privileged: false,
      readOnlyRootFilesystem: false, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };

  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } });
  const proxyArgs = [
    'proxy', '--type', 'sidecar', '--xds-address', settings.xdsAddress,
    '--id', '$(POD_NAME).$(POD_NAMESPACE)', '--service-account', '$(SERVICE_ACCOUNT)', '--address', '$(INSTANCE_IP)',
    // Envoy's admin port is the pod's own (localhost), as Istio binds it; stats and readiness stay on the pod IP
    '--admin-address', '127.0.0.1',
    '--interception-mode', mode,
    // ADS over TLS whatever the port (istiod's is 15012, but a control plane may listen elsewhere)
    '--xds-tls', '--root-cert', `${ROOT_DIR}/root-cert.pem`, '--token-file', `${TOKEN_DIR}/istio-token`,
    ...appPorts.flatMap((p) => ['--port', String(p)]),
    ...(Object.keys(labels).length ? ['--labels', labelArg(labels)] : []),
  ];
  const readiness = { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 };
  const proxy: Record<string, unknown> = {
    name: 'istio-proxy', image: settings.image, args: proxyArgs,
    ...(settings.imagePullPolicy ? { imagePullPolicy: settings.imagePullPolicy } : {}),
    env: [
      fieldEnv('POD_NAME', 'metadata.name'), fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
      fieldEnv('INSTANCE_IP', 'status.podIP'), fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
      ...(probersJson ? [{ name: 'ISTIO_KUBE_APP_PROBERS', value: probersJson }] : []),
    ],
    ports: [{ name: 'http-envoy-prom', containerPort: 15090, protocol: 'TCP' }],
    readinessProbe: readiness,
    securityContext: {
      runAsUser: settings.proxyUid, runAsGroup: settings.proxyUid, runAsNonRoot: true,
      allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'istiod-ca-cert', mountPath: ROOT_DIR, readOnly: true },
      { name: 'istio-token', mountPath: TOKEN_DIR, readOnly: true },
    ],
  };
  if (native) {
    proxy.restartPolicy = 'Always';
    // the app containers start once this passes (holdApplicationUntilProxyStarts for free)
    proxy.startupProbe = { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 1, failureThreshold: 600 };
  } else if (hold) {
    // the kubelet starts the next container only when postStart returns: it waits for readiness
    proxy.lifecycle = {
      postStart: {
        exec: {
          command: ['node', '-e', "const h=require('http');(function p(){h.get('http://127.0.0.1:15021/healthz/ready',r=>{r.resume();r.statusCode===200?process.exit(0):setTimeout(p,500)}).on('error',()=>setTimeout(p,500))})()"],
        },
      },
    };
  }

  const volumes = [
    { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
  const status = {
    initContainers: native ? ['istio-init', 'istio-proxy'] : ['istio-init'],
    containers: native ? [] : ['istio-proxy'],
    volumes: volumes.map((v) => v.name),
    imagePullSecrets: null,
    revision: settings.revision,
  };
  const outInit = [...(mode === 'NONE' ? [] : [init]), ...(native ? [proxy] : []), ...(spec.initContainers ?? [])];
  if (mode === 'NONE') status.initContainers = status.initContainers.filter((n) => n !== 'istio-init');
  const apps = rewritten.containers;
  const outContainers = native ? [...apps] : hold ? [proxy, ...apps] : [...apps, proxy];

  return {
    ...pod,
    metadata: {
      ...md,
      labels: {
        ...labels,
        'security.istio.io/tlsMode': 'istio',
        'service.istio.io/canonical-name': labels['service.istio.io/canonical-name'] ?? labels['app.kubernetes.io/name'] ?? labels.app ?? md.name ?? '',
        'service.istio.io/canonical-revision': labels['service.istio.io/canonical-revision'] ?? labels['app.kubernetes.io/version'] ?? labels.version ?? 'latest',
      },
      annotations: {
        ...(md.annotations ?? {}),
        'kubectl.kubernetes.io/default-container': md.annotations?.['kubectl.kubernetes.io/default-container'] ?? containers[0].name,
        [STATUS_ANNOTATION]: JSON.stringify(status),
      },
    },
    spec: {
      ...spec,
      initContainers: outInit,
      containers: outContainers,
      volumes: [...(spec.volumes ?? []), ...volumes],
    },
  };
}
