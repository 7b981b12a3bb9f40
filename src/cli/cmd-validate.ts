/**
 * `clew validate -f PATH [-f PATH...]`: istioctl validate's role. Loads files and directories,
 * runs schema, semantic and cross-resource checks, prints every message.
 * Exit 0 without errors (warnings allowed), 1 with errors, 2 on usage errors.
 */
import type { Command } from 'commander';
import {
  ConfigPathError,
  formatIgnored,
  formatMessage,
  loadConfigPaths,
  loadMeshConfigFile,
  resourceKey,
  validateResources,
  type LoadResult,
  type MeshConfigLoad,
  type ValidationMessage,
} from '../config/index.js';
import { CliError, UsageError } from './errors.js';
import { collect } from './cli-options.js';

interface ValidateOptions {
  filename: string[];
  output: string;
  namespace: string;
  meshConfig?: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function register(program: Command): void {
  program
    .command('validate')
    .description('validate Istio configuration files (VirtualService, DestinationRule, Gateway, ...)')
    .option('-f, --filename <path>', 'file or directory (recursive *.yaml/*.yml); repeatable', collect, [])
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .option('-n, --namespace <ns>', 'namespace for resources that do not set one', 'default')
    .option('--mesh-config <file>', 'also validate this Istio MeshConfig and check Telemetry providers against it')
    .action(async (opts: ValidateOptions) => {
      if (opts.filename.length === 0) throw new UsageError('validate: at least one -f/--filename is required');
      if (opts.output !== 'text' && opts.output !== 'json') throw new UsageError(`validate: unknown output format "${opts.output}" (text or json)`);
      let loaded: LoadResult;
      try {
        loaded = await loadConfigPaths(opts.filename, { defaultNamespace: opts.namespace });
      } catch (err) {
        if (err instanceof ConfigPathError) throw new UsageError(`validate: ${err.message}`);
        throw err;
      }
      let mesh: MeshConfigLoad | undefined;
      try {
        mesh = opts.meshConfig ? await loadMeshConfigFile(opts.meshConfig) : undefined;
      } catch (err) {
        if (err instanceof ConfigPathError) throw new UsageError(`validate: ${err.message}`);
        throw err;
      }
      const files = [...(opts.meshConfig ? [opts.meshConfig] : []), ...(loaded.files ?? [])];
      const cross = validateResources(loaded.resources, { meshConfig: mesh?.meshConfig });
      const messages = sortByFile([...(mesh?.messages ?? []), ...loaded.messages, ...cross], files);
      const errors = messages.filter((m) => m.severity === 'error').length;
      const warnings = messages.length - errors;

      if (opts.output === 'json') {
        const report = {
          files,
          resources: loaded.resources.map(resourceKey),
          ignored: loaded.ignored,
          messages: messages.map((m) => ({ ...m, text: formatMessage(m) })),
          errors,
          warnings,
        };
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const lines = [
          ...messages.map((m) => ({ file: m.file, line: m.line, text: formatMessage(m) })),
          ...loaded.ignored.map((i) => ({
            file: i.file,
            line: i.line,
            text: formatIgnored(i),
          })),
        ];
        const order = new Map(files.map((f, i) => [f, i]));
        lines.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line);
        for (const l of lines) process.stdout.write(`${l.text}\n`);
        const outcome = errors === 0 ? `no errors${warnings ? `, ${plural(warnings, 'warning')}` : ''}` : `${plural(errors, 'error')}, ${plural(warnings, 'warning')}`;
        process.stdout.write(`validated ${plural(loaded.resources.length, 'resource')} in ${plural(files.length, 'file')}: ${outcome}\n`);
      }
      if (errors > 0) throw new CliError(`validation failed with ${plural(errors, 'error')}`, 1, 'CLEW_VALIDATION_FAILED');
    });
}

function sortByFile(messages: ValidationMessage[], files: string[]): ValidationMessage[] {
  const order = new Map(files.map((f, i) => [f, i]));
  return messages.sort((a, b) => (order.get(a.file) ?? 0) - (order.get(b.file) ?? 0) || a.line - b.line);
}
