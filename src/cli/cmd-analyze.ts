/**
 * `clew analyze [-f PATH...] [-A | -n NS] [--control-plane URL] [-o text|json|yaml]
 * [--failure-threshold Error|Warning|Info]`: istioctl analyze's role, with Istio's message codes.
 * Files alone, the running control plane's config (`--control-plane`, or `--use-control-plane`
 * for the default URL: the control plane analyzes it, `GET /apis/v1/analyze`, as the dashboard
 * shows it), or files merged with the running config (analyzed here, over the control plane's
 * resources, registry, workloads and mesh config). Exit 0 when nothing reaches the threshold, 79 when
 * something does (istioctl's "analyzers found issues"), 2 on usage errors.
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { ConfigPathError, loadConfigPaths, type ConfigResource, type LoadResult } from '../config/index.js';
import { API_PATHS } from '../api/api-paths.js';
import type { AnalyzeResponse, RegistryzEntry, ResourcesResponse, WorkloadListResponse } from '../api/api-types.js';
import type { MeshConfig } from '../config/index.js';
import type { AnalyzedWorkload } from '../analyze/analyzer-types.js';
import { analyze, failsAt } from '../analyze/analyze.js';
import { formatAnalysis, type AnalysisLevel, type AnalysisMessage } from '../analyze/analyze-message.js';
import { collect } from './cli-options.js';
import { callControlPlane, DEFAULT_CONTROL_PLANE } from './control-plane-client.js';
import { CliError, UsageError } from './errors.js';

export const EXIT_ANALYZE_ISSUES = 79;
const LEVELS: AnalysisLevel[] = ['Info', 'Warning', 'Error'];

export function register(program: Command): void {
  program
    .command('analyze')
    .description('analyze Istio configuration (files, a running control plane, or both) and report Istio\'s message codes')
    .option('-f, --filename <path>', 'file or directory (recursive *.yaml/*.yml); repeatable', collect, [])
    .option('-n, --namespace <ns>', 'report this namespace only', 'default')
    .option('-A, --all-namespaces', 'report every namespace')
    .option('--control-plane <url>', 'also analyze the config of the control plane at this URL')
    .option('--use-control-plane', `also analyze the running control plane's config (${DEFAULT_CONTROL_PLANE})`)
    .option('-o, --output <format>', 'text, json or yaml', 'text')
    .option('--failure-threshold <level>', 'the level from which the exit code is non-zero: Info, Warning or Error', 'Error')
    .action(async (opts) => {
      if (!['text', 'json', 'yaml'].includes(opts.output)) throw new UsageError(`analyze: unknown output format "${opts.output}" (text, json or yaml)`);
      const threshold = LEVELS.find((l) => l.toLowerCase() === String(opts.failureThreshold).toLowerCase());
      if (!threshold) throw new UsageError(`analyze: --failure-threshold ${opts.failureThreshold}: one of Info, Warning, Error`);
      const cpUrl: string | undefined = opts.controlPlane ?? (opts.useControlPlane ? DEFAULT_CONTROL_PLANE : undefined);
      if (opts.filename.length === 0 && !cpUrl) throw new UsageError('analyze: give files (-f) or a control plane (--control-plane URL / --use-control-plane)');
      let loaded: LoadResult = { resources: [], messages: [], ignored: [] };
      if (opts.filename.length) {
        try {
          loaded = await loadConfigPaths(opts.filename, { defaultNamespace: opts.namespace });
        } catch (err) {
          if (err instanceof ConfigPathError) throw new UsageError(`analyze: ${err.message}`);
          throw err;
        }
      }
      const namespace: string | undefined = opts.allNamespaces ? undefined : opts.namespace;
      let messages: AnalysisMessage[];
      if (cpUrl && opts.filename.length === 0) {
        const path = `${API_PATHS.analyze}${namespace === undefined ? '' : `?namespace=${encodeURIComponent(namespace)}`}`;
        const res = await callControlPlane<AnalyzeResponse>(cpUrl, 'GET', path);
        if (res.status !== 200) throw new CliError(`control plane ${cpUrl} answered HTTP ${res.status} for ${API_PATHS.analyze}`);
        messages = res.body.messages;
      } else {
        let running: ConfigResource[] | undefined;
        let registryHosts: string[] | undefined;
        let workloads: AnalyzedWorkload[] | undefined;
        let mesh: MeshConfig | undefined;
        if (cpUrl) {
          const get = async <T>(path: string, what: string): Promise<T> => {
            const res = await callControlPlane<T>(cpUrl, 'GET', path);
            if (res.status !== 200) throw new CliError(`control plane ${cpUrl} answered HTTP ${res.status} for its ${what}`);
            return res.body;
          };
          running = (await get<ResourcesResponse>(API_PATHS.resources, 'resources')).items;
          registryHosts = (await get<RegistryzEntry[]>(API_PATHS.registryz, 'registry')).map((s) => s.hostname);
          workloads = (await get<WorkloadListResponse>(API_PATHS.workloads, 'workloads')).items.map((w) => ({ name: w.name, namespace: w.namespace, labels: w.labels }));
          mesh = await get<MeshConfig>(API_PATHS.mesh, 'mesh config');
        }
        messages = analyze({ files: loaded.resources, loadMessages: loaded.messages, running, registryHosts, workloads, mesh, namespace });
      }
      if (opts.output === 'json') process.stdout.write(`${JSON.stringify(messages, null, 2)}\n`);
      else if (opts.output === 'yaml') process.stdout.write(stringify(messages));
      else if (messages.length === 0) {
        process.stdout.write(`\u2714 No validation issues found when analyzing ${opts.allNamespaces ? 'all namespaces' : `namespace: ${opts.namespace}`}.\n`);
      } else {
        for (const m of messages) process.stdout.write(`${formatAnalysis(m)}\n`);
      }
      if (failsAt(messages, threshold)) {
        throw new CliError(`analyzers found issues at or above ${threshold}`, EXIT_ANALYZE_ISSUES, 'CLEW_ANALYZE_ISSUES');
      }
    });
}
