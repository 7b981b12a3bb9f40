/**
 * Clew's control plane on Kubernetes: the registry (Services, EndpointSlices, Pods, Namespaces,
 * Nodes), the Istio config (CRDs) and the status writer behind a Lease, started together.
 * `clew control-plane --kubeconfig FILE` (or `--in-cluster`) uses it.
 */
import type { RegistrySource } from '../registry/registry-aggregate.js';
import type { ConfigSource } from '../control-plane/control-plane.js';
import { KubeClient } from './kube-client.js';
import { KubeConfigSource } from './kube-config-source.js';
import { LeaderElection } from './kube-leader.js';
import { KubeRegistry } from './kube-registry.js';
import { KubeStatusWriter } from './kube-status-writer.js';
import { RootCertPublisher } from './kube-root-cert-publisher.js';

export interface KubeSourcesOptions {
  /** Istio's cluster id for this registry (default `Kubernetes`, as istiod's) */
  clusterId?: string;
  /** namespace of the status Lease (default istio-system) */
  systemNamespace?: string;
  /** Lease name (default clew-status-leader) */
  leaseName?: string;
  backoffMs?: number;
  maxBackoffMs?: number;
  leaseDurationSeconds?: number;
  renewMs?: number;
  log?: (line: string) => void;
}

export class KubeSources {
  readonly registry: KubeRegistry;
  readonly config: KubeConfigSource;
  readonly leader: LeaderElection;
  readonly status: KubeStatusWriter;
  readonly clusterId: string;
  /** set by publishRootCert() once the CA is open */
  rootCert: RootCertPublisher | undefined;

  constructor(readonly client: KubeClient, opts: KubeSourcesOptions = {}) {
    const log = opts.log ?? (() => {});
    const backoff = { backoffMs: opts.backoffMs, maxBackoffMs: opts.maxBackoffMs, log };
    this.clusterId = opts.clusterId ?? 'Kubernetes';
    this.registry = new KubeRegistry(client, backoff);
    this.config = new KubeConfigSource(client, backoff);
    this.leader = new LeaderElection(client, {
      namespace: opts.systemNamespace ?? 'istio-system',
      name: opts.leaseName ?? 'clew-status-leader',
      leaseDurationSeconds: opts.leaseDurationSeconds,
      renewMs: opts.renewMs,
      log,
      onChange: (leader) => {
        if (!leader) return;
        this.status.resyncAll();
        this.rootCert?.resyncAll();
      },
    });
    this.status = new KubeStatusWriter(client, this.config, this.leader, log);
  }

  /** Publishes the CA's root to every namespace (ConfigMap istio-ca-root-cert) while this holds the Lease. */
  publishRootCert(rootPem: () => string, log?: (line: string) => void): RootCertPublisher {
    this.rootCert = new RootCertPublisher(this.client, this.registry.namespaces, this.leader, rootPem, log);
    this.rootCert.resyncAll();
    return this.rootCert;
  }

  registrySource(): RegistrySource {
    return { clusterId: this.clusterId, registry: this.registry };
  }

  configSource(): ConfigSource {
    return this.config;
  }

  /** Starts every informer and the election; resolves when the informers have listed once. */
  async start(): Promise<void> {
    this.registry.start();
    this.config.start();
    await Promise.all([this.registry.synced(), this.config.synced()]);
    this.leader.start();
  }

  async stop(): Promise<void> {
    this.status.stop();
    this.rootCert?.stop();
    this.registry.stop();
    this.config.stop();
    await this.leader.stop();
    this.client.close();
  }
}
