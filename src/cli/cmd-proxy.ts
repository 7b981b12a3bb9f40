/**
 * `clew proxy`: runs the data plane (Envoy's role) against an xDS server. SIGTERM drains
 * gracefully then exits, SIGINT exits at once; with --hot-restart or --concurrency N > 1 the
 * command is an agent that keeps the listening sockets and runs the proxy in N workers (worker 0
 * holds the one ADS stream and the admin ports), and SIGHUP restarts them without refusing
 * connections (src/proxy/agent, src/proxy/drain).
 */
import cluster from 'node:cluster';
import type { Command } from 'commander';
import type { LogLevel, ProxyOptions } from '../proxy/core/bootstrap.js';
import { startProxy } from '../proxy/proxy.js';
import { parseDurationMs } from '../xds/codec.js';
import { UsageError } from './errors.js';
import { releaseUnderLoad, releaseYoungGeneration, returnMemoryWhenQuiet } from './proxy-heap.js';
import { addSidecarPortOptions, collect, parseLabels, parsePort as port } from './cli-options.js';

/** traffic restores the young generation's growth after this even if the proxy is never ready */
const YOUNG_GENERATION_WATCH_MS = 30_000;

export function register(program: Command): void {
  const cmd = program
    .command('proxy')
    .description('run the Clew sidecar/gateway proxy (xDS-driven, Envoy-compatible)')
    .requiredOption('--xds-address <host:port>', 'control plane ADS address')
    .requiredOption('--id <name.namespace>', 'workload name and namespace')
    .option('--type <type>', 'sidecar or router (gateway)', 'sidecar')
    .option('--labels <k=v,...>', 'workload labels')
    .option('--service-account <sa>', 'service account', 'default')
    .option('--address <ip>', "workload address (admin/stats/ready bind here too)")
    .option('--admin-address <ip>', 'address of the admin port (default: --address)')
    .option('--dns-capture', "run the DNS proxy on 127.0.0.1:15053 (istio-agent's DNS capture): mesh hostnames answered from the control plane's name table, the rest forwarded to resolv.conf's name servers")
    .option('--dns-port <port>', 'port of the DNS proxy', '15053')
    .option('--port <n>', 'workload port (repeatable)', collect, [])
    .option('--app-port <port=host:port>', 'where the app listens for a workload port (repeatable)', collect, [])
    .option('--interception-mode <mode>', 'NONE (local mode), REDIRECT or TPROXY (iptables capture in the pod\'s network namespace: clew iptables)', 'NONE');
  addSidecarPortOptions(cmd)
    .option('--concurrency <n>', 'worker processes sharing the listeners (connections handed out round robin); N > 1 runs the agent as with --hot-restart: worker 0 holds the one xDS stream and the admin/stats/ready ports (stats summed over the workers), SIGHUP restarts all N', '1')
    .option('--log-level <level>', 'trace|debug|info|warn|error|off', 'info')
    .option('--remap-port <from=to>', 'bind listener port FROM on port TO instead, e.g. 80=8080 without root (repeatable)', collect, [])
    .option('--drain-duration <duration>', 'drain period (SIGTERM, hot restart, listener updates): connections are told to close, listeners close after it; e.g. 45s (a bare number is seconds)', '45s')
    .option('--parent-shutdown-duration <duration>', 'a drain ends by then, closing whatever is still open; e.g. 60s', '60s')
    .option('--max-downstream-connections <n>', "global limit of open downstream connections (Envoy's overload manager downstream_connections): more are closed at once and counted in listener.<address>.downstream_global_cx_overflow; 0 = none (default: the open-files limit less a reserve, at most 65536)")
    .option('--root-cert <file>', "the control plane's root certificate (PEM): verifies its TLS port (certificate service, ADS over TLS); enables the workload certificate agent")
    .option('--ca-address <host:port>', 'where CreateCertificate goes (default: the xDS address with --xds-tls, else the xDS host at port 15012)')
    .option('--token-file <file>', 'workload token, sent as authorization: Bearer on the CSR call and the ADS stream (read again at each use)')
    .option('--xds-tls', 'ADS over TLS (verified with --root-cert); the default when the xDS port is 15012')
    .option('--workload-cert-ttl <duration>', 'requested workload certificate lifetime, e.g. 24h, 1m (rotation at about half of it)', '24h')
    .option('--key-algorithm <alg>', 'workload key: rsa (RSA 2048) or ecdsa (P-256)', 'rsa')
    .option('--trust-domain <domain>', 'SPIFFE trust domain of the identity in the CSR (the CA decides the certificate)', 'cluster.local')
    .option('--status-port <port>', "with $ISTIO_KUBE_APP_PROBERS (set by the injector): port answering the kubelet's rewritten probes /app-health/<container>/livez|readyz|startupz", '15020')
    .option('--hot-restart', 'run under an agent that owns the listening sockets: SIGHUP starts a new proxy process (N with --concurrency) that takes them over while the old one drains')
    .action(async (o: Record<string, any>) => {
      const type = o.type === 'router' ? 'router' : o.type === 'sidecar' ? 'sidecar' : undefined;
      if (!type) throw new UsageError(`--type must be sidecar or router`);
      const mode = String(o.interceptionMode).toUpperCase();
      if (mode !== 'NONE' && mode !== 'REDIRECT' && mode !== 'TPROXY') throw new UsageError('--interception-mode must be NONE, REDIRECT or TPROXY');
      const appPorts: Record<string, string> = {};
      for (const a of o.appPort as string[]) {
        const i = a.indexOf('=');
        if (i <= 0) throw new UsageError(`--app-port: expected PORT=HOST:PORT, got ${JSON.stringify(a)}`);
        appPorts[String(port(a.slice(0, i), '--app-port'))] = a.slice(i + 1);
      }
      const remapPorts: Record<number, number> = {};
      for (const r of o.remapPort as string[]) {
        const [from, to] = r.split('=');
        if (!from || !to) throw new UsageError(`--remap-port: expected FROM=TO, got ${JSON.stringify(r)}`);
        remapPorts[port(from, '--remap-port')] = port(to, '--remap-port');
      }
      const drainMs = durationFlag(o.drainDuration, '--drain-duration');
      const parentShutdownMs = durationFlag(o.parentShutdownDuration, '--parent-shutdown-duration');
      const concurrency = Number(o.concurrency);
      if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError(`--concurrency: expected a whole number from 1 to 256, got ${JSON.stringify(o.concurrency)}`);
      if (parentShutdownMs < drainMs) throw new UsageError('--parent-shutdown-duration must not be shorter than --drain-duration');
      let maxDownstreamConnections: number | undefined;
      if (o.maxDownstreamConnections !== undefined) {
        maxDownstreamConnections = Number(o.maxDownstreamConnections);
        if (!Number.isInteger(maxDownstreamConnections) || maxDownstreamConnections < 0) {
          throw new UsageError(`--max-downstream-connections: expected a whole number (0 = no limit), got ${JSON.stringify(o.maxDownstreamConnections)}`);
        }
      }
      const certTtlMs = durationFlag(o.workloadCertTtl, '--workload-cert-ttl');
      if (certTtlMs < 1000) throw new UsageError('--workload-cert-ttl must be at least 1s');
      const keyAlgorithm = String(o.keyAlgorithm).toLowerCase();
      if (keyAlgorithm !== 'rsa' && keyAlgorithm !== 'ecdsa') throw new UsageError('--key-algorithm must be rsa or ecdsa');
      if ((o.tokenFile || o.caAddress || o.xdsTls) && !o.rootCert) throw new UsageError('--token-file, --ca-address and --xds-tls need --root-cert (the control plane is verified before a token is sent)');
      let appProbers: ProxyOptions['appProbers'];
      if (process.env.ISTIO_KUBE_APP_PROBERS) {
        const { parseAppProbers, AppProbersError } = await import('../proxy/admin/app-probes.js');
        try {
          appProbers = parseAppProbers(process.env.ISTIO_KUBE_APP_PROBERS);
        } catch (err) {
          if (err instanceof AppProbersError) throw new UsageError(err.message);
          throw err;
        }
      }
      const options: ProxyOptions = {
        remapPorts,
        xdsAddress: String(o.xdsAddress),
        id: String(o.id),
        type,
        labels: parseLabels(o.labels),
        serviceAccount: String(o.serviceAccount),
        address: o.address,
        adminAddress: o.adminAddress,
        dnsCapture: !!o.dnsCapture,
        dnsPort: port(o.dnsPort, '--dns-port'),
        ports: (o.port as string[]).map((p) => port(p, '--port')),
        appPorts,
        interceptionMode: mode as 'NONE' | 'REDIRECT' | 'TPROXY',
        outboundPort: port(o.outboundPort, '--outbound-port'),
        inboundPort: port(o.inboundPort, '--inbound-port'),
        adminPort: port(o.adminPort, '--admin-port'),
        statsPort: port(o.statsPort, '--stats-port'),
        readyPort: port(o.readyPort, '--ready-port'),
        statusPort: port(o.statusPort, '--status-port'),
        appProbers,
        concurrency,
        logLevel: o.logLevel as LogLevel,
        drainTimeMs: drainMs,
        parentShutdownMs,
        maxDownstreamConnections,
        rootCertFile: o.rootCert,
        caAddress: o.caAddress,
        tokenFile: o.tokenFile,
        xdsTls: o.xdsTls ? true : undefined,
        workloadCertTtlS: Math.round(certTtlMs / 1000),
        keyAlgorithm: keyAlgorithm as 'rsa' | 'ecdsa',
        trustDomain: String(o.trustDomain),
        onQuit: () => process.exit(0),
      };
      if ((o.hotRestart || concurrency > 1) && cluster.isPrimary) {
        const verbose = ['trace', 'debug', 'info'].includes(String(o.logLevel));
        // the agent's modules load only when there is an agent (a plain sidecar never needs them)
        const { ProxyAgent } = await import('../proxy/agent/proxy-agent.js');
        const agent = new ProxyAgent({
          concurrency,
          readyTimeoutMs: 60_000,
          exitTimeoutMs: parentShutdownMs + 5000,
          log: (msg) => {
            if (verbose) process.stderr.write(`${new Date().toISOString()} [info] clew-agent: ${msg}\n`);
          },
        });
        releaseYoungGeneration();
        agent.handleSignals();
        agent.start();
        process.exit(await agent.done);
      }
      const child = cluster.isWorker;
      const workerSide = child ? await import('../proxy/agent/proxy-child.js') : undefined;
      const role = workerSide?.workerRoleFromEnv();
      // a later generation, or a worker besides 0, holds connections until its configuration is in
      const hold = !!role && (role.epoch > 0 || role.index > 0);
      const handle = await startProxy({ ...options, restartEpoch: role?.epoch, holdUntilReady: hold }, role ? workerSide!.workerHooks(role) : {});
      // start-up is over once the first config is applied (or, without one, after a while):
      // from then on traffic restores V8's young-generation growth (proxy-heap.ts)
      let watching = false;
      const watch = (): void => {
        if (watching) return;
        watching = true;
        releaseUnderLoad();
        // and a young generation grown by a load is given back once traffic stops
        returnMemoryWhenQuiet();
      };
      const fallback = setTimeout(watch, YOUNG_GENERATION_WATCH_MS);
      fallback.unref();
      void handle.ready.then(() => {
        clearTimeout(fallback);
        watch();
      });
      if (role) workerSide!.serveAgent(handle, role, (code) => process.exit(code));
      // on, not once: a supervisor signalling the process group and the agent may both send it
      process.on('SIGTERM', () => void handle.drain('graceful').then(() => process.exit(0)));
      process.on('SIGINT', () => void handle.close().then(() => process.exit(0)));
      await new Promise<never>(() => undefined);
    });
}

/** A Go-style duration (45s, 1m30s, 500ms) or a bare number of seconds (Envoy's --drain-time-s). */
function durationFlag(v: string, flag: string): number {
  const t = String(v).trim();
  const ms = /^\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : parseDurationMs(t);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) throw new UsageError(`${flag}: invalid duration ${JSON.stringify(v)} (e.g. 45s, 500ms, 1m)`);
  return ms;
}
