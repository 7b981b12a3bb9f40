/**
 * The control plane's admission webhooks on Kubernetes: the HTTPS server (port 15017, a
 * certificate from Clew's CA; `/validate` and `/inject`) and the patcher that keeps the webhook configurations' caBundle
 * equal to that CA's root. `clew control-plane --kubeconfig` starts it after the CA is open.
 */
import type { CertificateAuthority } from '../security/ca/certificate-authority.js';
import type { KubeClient } from './kube-client.js';
import { CaBundlePatcher } from './webhook/webhook-ca-bundle.js';
import { startWebhookServer, type WebhookServer } from './webhook/webhook-server.js';
import { validateAdmission } from './webhook/webhook-validate.js';
import { injectAdmission } from './webhook/webhook-inject.js';
import { DEFAULT_INJECT_SETTINGS, type InjectSettings } from './inject/inject-pod.js';

/** Istio's names (istiod's default revision in istio-system). */
export const VALIDATING_WEBHOOK_CONFIG = 'istio-validator-istio-system';
export const MUTATING_WEBHOOK_CONFIG = 'istio-sidecar-injector';

export interface KubeWebhooksOptions {
  client: KubeClient;
  ca: CertificateAuthority;
  host: string;
  port: number;
  validatingConfigs?: string[];
  mutatingConfigs?: string[];
  /** labels of a namespace (the registry's namespace informer): the injection policy */
  namespaceLabels: (namespace: string) => Record<string, string> | undefined;
  inject?: Partial<InjectSettings>;
  /** settings read at each admission (the mesh config's current defaults, e.g. holdApplicationUntilProxyStarts) */
  injectDefaults?: () => Partial<InjectSettings>;
  log?: (line: string) => void;
  backoffMs?: number;
  maxBackoffMs?: number;
}

export class KubeWebhooks {
  private constructor(readonly server: WebhookServer, readonly patcher: CaBundlePatcher) {}

  static async start(opts: KubeWebhooksOptions): Promise<KubeWebhooks> {
    const server = await startWebhookServer({
      ca: opts.ca, host: opts.host, port: opts.port, log: opts.log,
      handlers: {
        '/validate': validateAdmission,
        '/inject': (req) => injectAdmission(req, {
          settings: { ...DEFAULT_INJECT_SETTINGS, ...opts.inject, ...opts.injectDefaults?.() },
          // a namespace created a moment ago may not have reached the informer yet
          namespaceLabels: async (ns) => opts.namespaceLabels(ns)
            ?? (await opts.client.get(`/api/v1/namespaces/${encodeURIComponent(ns)}`).catch(() => undefined))?.metadata.labels ?? {},
        }),
      },
    });
    const patcher = new CaBundlePatcher(opts.client, {
      rootPem: () => opts.ca.rootCertPem(),
      validating: opts.validatingConfigs ?? [VALIDATING_WEBHOOK_CONFIG],
      mutating: opts.mutatingConfigs ?? [MUTATING_WEBHOOK_CONFIG],
      log: opts.log, backoffMs: opts.backoffMs, maxBackoffMs: opts.maxBackoffMs,
    }).start();
    return new KubeWebhooks(server, patcher);
  }

  get port(): number {
    return this.server.port;
  }

  async stop(): Promise<void> {
    this.patcher.stop();
    await this.server.close();
  }
}
