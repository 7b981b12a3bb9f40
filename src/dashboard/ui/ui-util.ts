/** Small DOM and formatting helpers shared by the dashboard's pages. */
import type { Health } from '../../api/api-types.js';

export class ApiFailure extends Error {}

/** GET /api/<path> as JSON; an error answer throws with the server's message. */
export async function api<T>(path: string): Promise<T> {
  const res = await fetch(`/api/${path}`, { headers: { accept: 'application/json' } });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiFailure(`/api/${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) throw new ApiFailure(`/api/${path}: ${(body as { error?: string }).error ?? `HTTP ${res.status}`}`);
  return body as T;
}

type Child = Node | string | number | undefined | null | false;

/** `el('td', {class: 'x'}, 'text', child)` */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === 'object' ? c : String(c));
  }
  return e;
}

export function healthDot(h: Health): HTMLSpanElement {
  return el('span', { class: `dot health-${h}`, title: h, 'data-health': h });
}

export function table(headers: string[], rows: HTMLTableRowElement[], attrs: Record<string, string> = {}): HTMLTableElement {
  return el('table', attrs, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows));
}

export function rate(v: number): string {
  if (v === 0) return '0';
  if (v < 0.01) return v.toExponential(1);
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

export function percent(v: number): string {
  return `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)}%`;
}

export function ms(v: number | undefined): string {
  return v === undefined ? '-' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
}

export function bytes(v: number): string {
  if (v < 1024) return `${v.toFixed(0)} B/s`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB/s`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB/s`;
}

export function setStatus(text: string, error = false): void {
  const s = document.getElementById('status');
  if (!s) return;
  s.textContent = text;
  s.className = error ? 'error' : '';
}
