/**
 * The Kubernetes API client: configuration and credentials from @kubernetes/client-node's
 * KubeConfig (a kubeconfig file, or in-cluster: the service-account token and CA it re-reads), JSON
 * requests over node:https with the options KubeConfig applies (one keep-alive agent per set of
 * TLS credentials), and watches through client-node's Watch. Objects stay plain JSON as the API
 * server sends them (no typed deserialisation), so CRDs and core kinds are handled alike.
 */
import * as https from 'node:https';
import * as http from 'node:http';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { KubeError } from './kube-errors.js';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    ownerReferences?: unknown[];
    [k: string]: unknown;
  };
  spec?: any;
  status?: any;
  [k: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  contentType?: string;
  /** ms; default 30 s */
  timeoutMs?: number;
}

const MAX_BODY = 256 * 1024 * 1024;

export class KubeClient {
  private agents = new Map<string, https.Agent>();
  private readonly watcher: Watch;

  constructor(readonly config: KubeConfig) {
    if (!config.getCurrentCluster()) throw new KubeError('KUBE_CONFIG', 'kubeconfig: no current cluster (current-context missing or unknown)');
    this.watcher = new Watch(config);
  }

  /** From a kubeconfig file (its current context). */
  static fromFile(file: string): KubeClient {
    const kc = new KubeConfig();
    try {
      kc.loadFromFile(file);
    } catch (err) {
      throw new KubeError('KUBE_CONFIG', `kubeconfig ${file}: ${(err as Error).message}`);
    }
    return new KubeClient(kc);
  }

  /** kubectl's default: $KUBECONFIG, else ~/.kube/config, else in-cluster. */
  static fromDefault(): KubeClient {
    const kc = new KubeConfig();
    try {
      kc.loadFromDefault();
    } catch (err) {
      throw new KubeError('KUBE_CONFIG', `kubeconfig: ${(err as Error).message}`);
    }
    return new KubeClient(kc);
  }

  /** In a pod: KUBERNETES_SERVICE_HOST/PORT, the mounted service-account token and CA. */
  static inCluster(): KubeClient {
    if (!process.env.KUBERNETES_SERVICE_HOST) throw new KubeError('KUBE_CONFIG', 'not in a cluster: KUBERNETES_SERVICE_HOST is not set (pass --kubeconfig)');
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return new KubeClient(kc);
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /** One JSON request; resolves with the parsed body, throws KubeError for a non-2xx answer. */
  async request<T = any>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server.replace(/\/$/, '') + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.config.applyToHTTPSOptions(reqOpts);
    this.reuseAgent(reqOpts);
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    if (data) {
      (reqOpts.headers as Record<string, string | number>)['content-type'] = opts.contentType ?? 'application/json';
      (reqOpts.headers as Record<string, string | number>)['content-length'] = data.length;
    }
    const mod = url.protocol === 'http:' ? http : https;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(url, reqOpts, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) {
            req.destroy(new KubeError('KUBE_TRANSPORT', `${method} ${path}: answer larger than ${MAX_BODY} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('error', (err) => reject(new KubeError('KUBE_TRANSPORT', `${method} ${path}: ${err.message}`)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: any;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve(parsed as T);
            return;
          }
          const message = parsed?.message ?? (text.slice(0, 500) || http.STATUS_CODES[status]);
          reject(new KubeError('KUBE_API', `${method} ${path}: ${status} ${message}`, status, parsed?.reason ?? ''));
        });
      });
      req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer in ${opts.timeoutMs ?? 30_000} ms`)));
      req.on('error', (err) => reject(err instanceof KubeError ? err : new KubeError('KUBE_TRANSPORT', `${method} ${path}: ${err.message}`)));
      req.end(data);
    });
  }

  get<T = KubeObject>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, undefined, opts);
  }

  /**
   * A watch stream (client-node's Watch): `onEvent` per event, `onDone` once when it ends (err
   * undefined for a normal end, e.g. the server's timeoutSeconds). Resolves with its controller.
   */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: WatchEventType, obj: any) => void,
    onDone: (err?: unknown) => void,
  ): Promise<AbortController> {
    let done = false;
    const once = (err?: unknown) => {
      if (done) return;
      done = true;
      onDone(err ?? undefined);
    };
    return this.watcher.watch(path, query, (type, obj) => {
      if (!done) onEvent(type as WatchEventType, obj);
    }, (err) => once(err ? toKubeError(err, path) : undefined));
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  /** KubeConfig makes a new agent per call; keep one per credential set so connections are reused. */
  private reuseAgent(opts: https.RequestOptions): void {
    const a = opts.agent as https.Agent | undefined;
    if (!a || !(a instanceof https.Agent)) return;
    const o = a.options;
    const key = JSON.stringify([o.ca, o.cert, o.key, o.rejectUnauthorized, o.servername].map((v) => (v === undefined ? null : String(v))));
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new https.Agent({ ...o, keepAlive: true, maxSockets: 16 });
      this.agents.set(key, agent);
    }
    a.destroy();
    opts.agent = agent;
  }
}

function toKubeError(err: any, path: string): KubeError {
  if (err instanceof KubeError) return err;
  const status = Number(err?.statusCode ?? err?.code) || 0;
  if (status) return new KubeError('KUBE_API', `watch ${path}: ${status} ${err?.message ?? ''}`, status, status === 410 ? 'Gone' : '');
  return new KubeError('KUBE_TRANSPORT', `watch ${path}: ${err?.message ?? String(err)}`);
}
