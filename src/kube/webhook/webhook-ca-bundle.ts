/**
 * Keeps the `caBundle` of Clew's webhook configurations equal to the CA's root (istiod's webhook
 * patcher): an informer on validating and mutating webhook configurations; a configuration of a
 * watched name whose webhooks lack the root, when it appears or changes, gets it written back
 * (read-modify-write with its resourceVersion; a conflict is retried on the next event).
 */
import type { KubeClient, KubeObject } from '../kube-client.js';
import { isConflict, isNotFound } from '../kube-errors.js';
import { Informer } from '../kube-informer.js';

export interface CaBundlePatcherOptions {
  rootPem: () => string;
  validating?: string[];
  mutating?: string[];
  log?: (line: string) => void;
  backoffMs?: number;
  maxBackoffMs?: number;
}

const V_PATH = '/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations';
const M_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';

export class CaBundlePatcher {
  private readonly informers: Informer[] = [];
  private readonly log: (line: string) => void;
  /** configurations written (tests, metrics) */
  patched = 0;

  constructor(private readonly client: KubeClient, private readonly opts: CaBundlePatcherOptions) {
    this.log = opts.log ?? (() => {});
    const watch = (path: string, names: string[] | undefined) => {
      if (!names?.length) return;
      const inf = new Informer(client, { path, log: opts.log, backoffMs: opts.backoffMs, maxBackoffMs: opts.maxBackoffMs });
      const check = (o: KubeObject) => {
        if (names.includes(o.metadata.name)) void this.ensure(path, o);
      };
      inf.on({ add: check, update: check });
      this.informers.push(inf);
    };
    watch(V_PATH, opts.validating);
    watch(M_PATH, opts.mutating);
  }

  start(): this {
    for (const i of this.informers) i.start();
    return this;
  }

  async synced(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.synced));
  }

  stop(): void {
    for (const i of this.informers) i.stop();
  }

  private async ensure(path: string, o: KubeObject): Promise<void> {
    const bundle = Buffer.from(this.opts.rootPem()).toString('base64');
    const hooks = ((o as any).webhooks ?? []) as any[];
    if (hooks.every((h) => h.clientConfig?.caBundle === bundle)) return;
    const next = { ...o, webhooks: hooks.map((h) => ({ ...h, clientConfig: { ...h.clientConfig, caBundle: bundle } })) };
    try {
      await this.client.request('PUT', `${path}/${o.metadata.name}`, next);
      this.patched++;
      this.log(`webhook configuration ${o.metadata.name}: caBundle set to the CA's root`);
    } catch (err) {
      // a newer version is on its way to the informer, which checks it again
      if (isConflict(err) || isNotFound(err)) return;
      this.log(`webhook configuration ${o.metadata.name}: writing caBundle: ${(err as Error).message}`);
    }
  }
}
