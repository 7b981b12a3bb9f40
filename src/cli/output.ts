/** Output helpers shared by commands: `-o yaml|json|table`. */
import YAML from 'yaml';
import { UsageError } from './errors.js';

export type OutputFormat = 'table' | 'yaml' | 'json';

export function parseOutput(value: string | undefined, allowed: OutputFormat[] = ['table', 'yaml', 'json']): OutputFormat {
  const v = (value ?? 'table') as OutputFormat;
  if (!allowed.includes(v)) throw new UsageError(`unknown output format ${JSON.stringify(value)}; use one of ${allowed.join(', ')}`);
  return v;
}

/** Left-aligned columns separated by three spaces, like kubectl/istioctl. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : (c ?? '').padEnd(widths[i] + 3))).join('').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function render(format: OutputFormat, data: unknown, toTable: () => string): string {
  if (format === 'json') return JSON.stringify(data, null, 2) + '\n';
  if (format === 'yaml') return YAML.stringify(data, { version: '1.1' }); // strings like "on" stay strings for Kubernetes' reader
  return toTable();
}
