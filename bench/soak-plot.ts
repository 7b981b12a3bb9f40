/**
 * The soak's RSS curve as a PNG: an SVG line chart (RSS and V8 heap used of the sidecar over
 * time, the idle level, the end of the warm-up and of the load marked) rendered by Debian's
 * Chromium through playwright-core (already a dev dependency for the dashboard's browser tests).
 */
import * as fs from 'node:fs';
import type { SoakSample } from './soak-summary.js';

export interface PlotInput {
  title: string;
  samples: SoakSample[];
  idleRssMb: number;
  warmupSeconds: number;
  loadSeconds: number;
}

const W = 1000;
const H = 520;
const M = { l: 70, r: 170, t: 50, b: 55 };

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The chart as SVG text. */
export function soakSvg(p: PlotInput): string {
  const ts = p.samples.map((s) => s.t);
  const t0 = Math.min(0, ...ts);
  const t1 = Math.max(p.loadSeconds, ...ts);
  const yMax = Math.max(...p.samples.map((s) => s.rssMb), p.idleRssMb) * 1.1;
  const minutes = t1 - t0 > 300;
  const x = (t: number): number => M.l + ((t - t0) / (t1 - t0 || 1)) * (W - M.l - M.r);
  const y = (v: number): number => H - M.b - (v / yMax) * (H - M.t - M.b);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="13">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.l}" y="28" font-size="16" font-weight="bold">${esc(p.title)}</text>`);
  const yStep = niceStep(yMax, 6);
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.l - 8}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  const unit = minutes ? 60 : 1;
  const xStep = niceStep((t1 - t0) / unit, 10) * unit;
  for (let t = Math.ceil(t0 / xStep) * xStep; t <= t1; t += xStep) {
    out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${H - M.b}" y2="${H - M.b + 5}" stroke="#444"/>`);
    out.push(`<text x="${x(t)}" y="${H - M.b + 20}" text-anchor="middle">${Math.round((t / unit) * 10) / 10}</text>`);
  }
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 12}" text-anchor="middle">${minutes ? 'minutes' : 'seconds'} since the load started</text>`);
  out.push(`<text transform="translate(18 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">MB</text>`);
  out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="#444"/><line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="#444"/>`);
  const vline = (t: number, label: string, color: string): void => {
    out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${M.t}" y2="${H - M.b}" stroke="${color}" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${x(t) + 4}" y="${M.t + 12}" fill="${color}">${esc(label)}</text>`);
  };
  vline(0, 'load starts', '#777');
  vline(p.warmupSeconds, 'warm-up ends', '#b26b00');
  vline(p.loadSeconds, 'load ends', '#777');
  out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y(p.idleRssMb)}" y2="${y(p.idleRssMb)}" stroke="#2a9d2a" stroke-dasharray="2 3"/>`);
  const path = (k: 'rssMb' | 'heapUsedMb'): string => p.samples.map((s, i) => `${i ? 'L' : 'M'}${x(s.t).toFixed(1)},${y(s[k]).toFixed(1)}`).join(' ');
  out.push(`<path d="${path('heapUsedMb')}" fill="none" stroke="#7b4bb3" stroke-width="1.5"/>`);
  out.push(`<path d="${path('rssMb')}" fill="none" stroke="#1f5fbf" stroke-width="2"/>`);
  const lx = W - M.r + 12;
  const legend: Array<[string, string, string]> = [['#1f5fbf', '', 'sidecar RSS'], ['#7b4bb3', '', 'V8 heap used'], ['#2a9d2a', '2 3', `idle RSS ${p.idleRssMb} MB`]];
  legend.forEach(([c, dash, label], i) => {
    const ly = M.t + 20 + i * 22;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''}/><text x="${lx + 30}" y="${ly + 4}">${esc(label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Renders the SVG to `file` (PNG) with Chromium. */
export async function writePng(svg: string, file: string): Promise<void> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: process.env.CLEW_CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: W, height: H } });
    await page.setContent(`<!doctype html><html><body style="margin:0">${svg}</body></html>`);
    fs.writeFileSync(file, await page.locator('svg').screenshot({ type: 'png' }));
  } finally {
    await browser.close();
  }
}
