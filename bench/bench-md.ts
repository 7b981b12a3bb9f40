/** Markdown helpers of the report: numbers (– when not measured) and tables. */
import { round } from './bench-util.js';

export function f(v: number | undefined, digits = 1, unit = ''): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return `${round(v, digits)}${unit}`;
}

export function signed(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  const r = round(v, digits);
  return r > 0 ? `+${r}` : `${r}`;
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

export function table(head: string[], rows: string[][]): string[] {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)];
}
