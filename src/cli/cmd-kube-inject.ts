/**
 * `clew kube-inject -f FILE`: istioctl kube-inject's role. Adds Clew's init container and sidecar
 * to every pod template of a manifest, offline, exactly as the injecting webhook would (one
 * function), and prints the manifest (or writes it with -o).
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { CliError, UsageError } from './errors.js';

export function register(program: Command): void {
  program
    .command('kube-inject')
    .description('add the sidecar to the pod templates of a Kubernetes manifest (offline, as the injection webhook does)')
    .requiredOption('-f, --filename <file>', "manifest (YAML, several documents allowed); '-' reads stdin")
    .option('-o, --output <file>', 'write the result here instead of stdout')
    .option('--image <image>', 'image of the init container and sidecar', 'clew:latest')
    .option('--xds-address <host:port>', "the control plane's TLS port as pods reach it", 'istiod.istio-system.svc:15012')
    .option('--no-native-sidecar', 'the sidecar as a regular container, not a restartable init container (Kubernetes before 1.29)')
    .option('--revision <rev>', 'revision recorded in sidecar.istio.io/status', 'default')
    .option('--mesh-config <file>', "MeshConfig YAML (or the istio ConfigMap), as istioctl's --meshConfigFile: its defaultConfig (holdApplicationUntilProxyStarts) applies")
    .action(async (opts) => {
      const { injectManifest } = await import('../kube/inject/inject-manifest.js');
      const { DEFAULT_INJECT_SETTINGS, InjectError, meshHoldApplication } = await import('../kube/inject/inject-pod.js');
      let hold = false;
      if (opts.meshConfig) {
        const { loadMeshConfigFile, formatMessage, ConfigPathError } = await import('../config/index.js');
        let loaded;
        try {
          loaded = await loadMeshConfigFile(opts.meshConfig);
        } catch (err) {
          if (err instanceof ConfigPathError) throw new UsageError(`kube-inject: --mesh-config ${err.message}`);
          throw err;
        }
        const errors = loaded.messages.filter((m) => m.severity === 'error');
        if (errors.length) throw new CliError(`kube-inject: invalid mesh config:\n${errors.map((m) => `  ${formatMessage(m)}`).join('\n')}`, 1, 'CLEW_MESH_CONFIG');
        hold = meshHoldApplication(loaded.meshConfig as { defaultConfig?: Record<string, unknown> });
      }
      let text: string;
      try {
        text = opts.filename === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(opts.filename, 'utf8');
      } catch (err) {
        throw new UsageError(`kube-inject: ${opts.filename}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      }
      let res;
      try {
        res = injectManifest(text, {
          ...DEFAULT_INJECT_SETTINGS, image: opts.image, xdsAddress: opts.xdsAddress, nativeSidecar: opts.nativeSidecar, revision: opts.revision, holdApplicationUntilProxyStarts: hold,
        }, opts.filename === '-' ? '<stdin>' : opts.filename);
      } catch (err) {
        if (err instanceof InjectError) throw new CliError(`kube-inject: ${err.message}`, 1, err.code);
        throw err;
      }
      if (opts.output) fs.writeFileSync(opts.output, res.yaml);
      else process.stdout.write(res.yaml);
      for (const s of res.skipped) process.stderr.write(`kube-inject: ${s.name} not injected: ${s.reason}\n`);
    });
}
