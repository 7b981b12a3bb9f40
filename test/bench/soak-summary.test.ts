/** The memory soak's figures (bench/soak-summary.ts): windows, medians, growth after the warm-up. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { soakFigures, type SoakSample } from '../../bench/soak-summary.js';

const series = (from: number, to: number, step: number, rss: (t: number) => number): SoakSample[] => {
  const out: SoakSample[] = [];
  for (let t = from; t <= to; t += step) out.push({ t, rssMb: rss(t), heapUsedMb: 20 });
  return out;
};

test('30-minute run: 5-minute and end levels are medians of a minute, growth is their difference', () => {
  const idle = series(-30, 0, 10, () => 80);
  // 120 MB plateau with one-sample spikes of +25 MB (a young generation at its peak), +3 MB over the last 10 minutes
  const load = series(10, 1800, 10, (t) => (t % 70 === 0 ? 145 : 120) + (t > 1200 ? 3 : 0));
  const f = soakFigures(idle, load, 1800);
  assert.equal(f.idleRssMb, 80);
  assert.equal(f.peakRssMb, 148);
  assert.equal(f.warmupSeconds, 300);
  assert.equal(f.rssAt5MinMb, 120);
  assert.equal(f.rssEndMb, 123);
  assert.equal(f.growthAfter5MinMb, 3);
});

test('a short run ends its warm-up at a third of the run; a steady climb shows as growth', () => {
  const load = series(5, 120, 5, (t) => 100 + t / 10);
  const f = soakFigures([], load, 120);
  assert.equal(f.warmupSeconds, 40);
  assert.equal(f.idleRssMb, 100.5, 'no idle samples: the first sample under load');
  assert.ok(f.growthAfter5MinMb > 5 && f.growthAfter5MinMb < 10, String(f.growthAfter5MinMb));
  assert.throws(() => soakFigures([], [], 60), /no samples under load/);
});
