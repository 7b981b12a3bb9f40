/** `clew control-plane`: run the control plane (istiod's role) in the foreground. */
import type { Command } from 'commander';
import { ControlPlane } from '../control-plane/control-plane.js';
import { parseCidr4 } from '../registry/index.js';
import { ConfigPathError, formatMessage, MeshConfigError } from '../config/index.js';
import { CliError, UsageError } from './errors.js';
import { parsePort } from './cli-options.js';
import { parseDurationMs } from '../xds/codec.js';
import { SecurityError } from '../security/security-errors.js';

const port = (v: string): number => parsePort(v, 'port');

/** A Go duration (24h, 90m, 1h30m) or whole days (90d), in seconds. */
export function parseTtlSeconds(v: string, flag: string): number {
  const t = String(v).trim();
  const days = /^(\d+)d$/.exec(t);
  const ms = days ? Number(days[1]) * 86_400_000 : parseDurationMs(t);
  if (ms === undefined || !Number.isFinite(ms) || ms < 1000) throw new UsageError(`${flag}: invalid duration ${JSON.stringify(v)} (e.g. 24h, 30m, 90d; at least 1s)`);
  return Math.floor(ms / 1000);
}

export function register(program: Command): void {
  program
    .command('control-plane')
    .description('run the control plane: config store and validation, registry, xDS (ADS) server, debug API')
    .requiredOption('--config-dir <dir>', 'directory of Istio YAML; applied config is written here')
    .option('--mesh-config <file>', "Istio MeshConfig YAML (or the istio ConfigMap): access logs, tracing, extensionProviders; default: Istio's defaults")
    .option('--xds-port <port>', 'ADS gRPC port, plaintext (for local use)', port, 15010)
    .option('--secure-xds-port <port>', "TLS gRPC port: Istio's certificate service (CreateCertificate) and ADS over TLS, as istiod's 15012", port, 15012)
    .option('--ca-dir <dir>', "plug-in CA in Istio's cacerts form (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem); default: a self-signed root kept in <config-dir>/.clew/secrets/ca")
    .option('--workload-cert-ttl <duration>', 'lifetime of workload certificates whose CSR asks for none (max 90d)', '24h')
    .option('--debug-port <port>', 'HTTP port for /ready, /metrics, /debug/* and the resource API', port, 15014)
    .option('--listen-address <ip>', 'address of the xDS (ADS) server', '127.0.0.1')
    .option('--debug-address <ip>', 'address of the debug/resource API (writes need the admin token)', '127.0.0.1')
    .option('--metrics-scrape-interval <ms>', "how often every connected proxy's Istio metrics are scraped for the dashboard's graph (0 = never)", (v) => Number(v), 5000)
    .option('--service-cidr <cidr>', 'range Services get their virtual IPs (ClusterIPs) from', '10.96.0.0/12')
    .option('--debounce <ms>', 'merge changes arriving within this many ms into one push', (v) => Number(v), 100)
    .option('--kubeconfig <file>', 'also read Services, EndpointSlices, Pods and Istio CRDs from this Kubernetes cluster')
    .option('--in-cluster', 'like --kubeconfig, with the pod\'s service account (KUBERNETES_SERVICE_HOST, mounted token)')
    .option('--cluster-id <id>', 'cluster id of the Kubernetes registry', 'Kubernetes')
    .option('--system-namespace <ns>', 'namespace of the control plane (status Lease)', 'istio-system')
    .option('--webhook-port <port>', 'with --kubeconfig/--in-cluster: HTTPS port of the admission webhooks (/validate, /inject), as istiod\'s 15017', port, 15017)
    .option('--webhook-address <ip>', 'address of the admission webhooks (default: --listen-address)')
    .option('--proxy-image <image>', 'image of the injected init container and sidecar', 'clew:latest')
    .option('--no-native-sidecar', 'inject the sidecar as a regular container, not a restartable init container (Kubernetes before 1.29)')
    .action(async (opts) => {
      try {
        parseCidr4(opts.serviceCidr);
      } catch (err) {
        throw new UsageError(`--service-cidr: ${(err as Error).message}`);
      }
      const log = (line: string) => process.stderr.write(`${line}\n`);
      let kube: import('../kube/kube-sources.js').KubeSources | undefined;
      if (opts.kubeconfig || opts.inCluster) {
        if (opts.kubeconfig && opts.inCluster) throw new UsageError('control-plane: --kubeconfig and --in-cluster exclude each other');
        const { KubeClient } = await import('../kube/kube-client.js');
        const { KubeSources } = await import('../kube/kube-sources.js');
        let client;
        try {
          client = opts.inCluster ? KubeClient.inCluster() : KubeClient.fromFile(opts.kubeconfig);
        } catch (err) {
          throw new UsageError(`control-plane: ${(err as Error).message}`);
        }
        kube = new KubeSources(client, { clusterId: opts.clusterId, systemNamespace: opts.systemNamespace, log });
        log(`kubernetes: ${client.server}: waiting for the informers to list`);
        await kube.start();
        log(`kubernetes: ${kube.registry.services().length} services, ${kube.config.all().length} Istio resources`);
      }
      const cp = new ControlPlane({
        registries: kube ? [kube.registrySource()] : [],
        configSources: kube ? [kube.configSource()] : [],
        // sidecars' projected service-account tokens (audience istio-ca), checked by TokenReview
        authenticators: kube ? [new (await import('../kube/kube-token-review.js')).KubeTokenReviewAuthenticator(kube.client)] : [],
        configDir: opts.configDir,
        meshConfigFile: opts.meshConfig,
        xdsPort: opts.xdsPort,
        secureXdsPort: opts.secureXdsPort,
        caDir: opts.caDir,
        workloadCertTtlSeconds: parseTtlSeconds(opts.workloadCertTtl, '--workload-cert-ttl'),
        debugPort: opts.debugPort,
        listenAddress: opts.listenAddress,
        serviceCidr: opts.serviceCidr,
        debugAddress: opts.debugAddress,
        debounceMs: opts.debounce,
        metricsScrapeIntervalMs: opts.metricsScrapeInterval,
      });
      try {
        await cp.start();
      } catch (err) {
        if (err instanceof MeshConfigError) {
          const lines = err.messages.map((m) => `  ${formatMessage(m)}`).join('\n');
          throw new CliError(`${err.message}; not starting:\n${lines}`, 1, err.code);
        }
        if (err instanceof ConfigPathError) throw new CliError(`mesh config ${err.message}`, 1, err.code);
        if (err instanceof SecurityError) throw new CliError(`certificate authority: ${err.message}; not starting`, 1, err.code);
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') throw new UsageError(`port in use: ${e.message}`);
        throw err;
      }
      let webhooks: import('../kube/kube-webhooks.js').KubeWebhooks | undefined;
      if (kube) {
        kube.publishRootCert(() => cp.security.ca.rootCertPem(), log);
        const { KubeWebhooks } = await import('../kube/kube-webhooks.js');
        const { meshHoldApplication } = await import('../kube/inject/inject-pod.js');
        try {
          webhooks = await KubeWebhooks.start({
            client: kube.client, ca: cp.security.ca, host: opts.webhookAddress ?? opts.listenAddress, port: opts.webhookPort, log,
            namespaceLabels: (ns) => kube!.registry.namespaceLabels(ns),
            inject: { image: opts.proxyImage, nativeSidecar: opts.nativeSidecar },
            injectDefaults: () => ({ holdApplicationUntilProxyStarts: meshHoldApplication(cp.meshConfig()) }),
          });
        } catch (err) {
          await cp.stop();
          await kube.stop();
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'EADDRINUSE') throw new UsageError(`webhook port in use: ${e.message}`);
          throw err;
        }
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          void (webhooks?.stop() ?? Promise.resolve()).then(() => cp.stop()).then(() => kube?.stop()).then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
