/** The proxy's young-generation hold: released by traffic (frequent scavenges), not by idling. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdYoungGeneration, releaseUnderLoad, returnMemoryWhenQuiet, youngGenerationBytes, youngGenerationHeld } from '../../src/cli/proxy-heap.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('held during start-up; an idle process stays held, allocation-heavy work releases it', async () => {
  holdYoungGeneration();
  assert.equal(youngGenerationHeld(), true);
  const stop = releaseUnderLoad(5);
  try {
    await sleep(300);
    assert.equal(youngGenerationHeld(), true, 'idle: no scavenges, still held');
    // short-lived garbage, as requests make: many scavenges of the small young generation
    const end = Date.now() + 5000;
    let sink = 0;
    while (youngGenerationHeld() && Date.now() < end) {
      for (let i = 0; i < 200_000; i++) sink += { a: i, b: [i, i + 1], c: `x${i}` }.b.length;
      await sleep(1); // let the GC observer report
    }
    assert.ok(sink > 0);
    assert.equal(youngGenerationHeld(), false, 'traffic-like allocation released the hold');
  } finally {
    stop();
  }
});

test('a young generation grown by allocation is given back once no scavenge runs for a while', async () => {
  // grow the young generation as a load does: short-lived garbage with some survivors
  let keep: unknown[][] = [];
  const end = Date.now() + 3000;
  while (youngGenerationBytes() <= 8 << 20 && Date.now() < end) {
    const a: unknown[] = [];
    for (let i = 0; i < 1000; i++) a.push({ i, s: `x${i}` });
    keep.push(a);
    if (keep.length > 50) keep = [];
  }
  keep = [];
  const grown = youngGenerationBytes();
  assert.ok(grown > 4 << 20, `young generation grew (${grown} bytes)`);
  // Node 20's full GC shrinks the young generation only when the allocation rate V8 measures over
  // its last 5 s is low: the quiet spell must outlast that window there
  const quietMs = Number(process.versions.node.split('.')[0]) >= 22 ? 300 : 5500;
  const q = returnMemoryWhenQuiet({ quietMs, checkMs: 50, thresholdBytes: 4 << 20 });
  try {
    const until = Date.now() + quietMs + 5000;
    while (q.releases() === 0 && Date.now() < until) await sleep(50);
    assert.equal(q.releases(), 1, 'one memory-reducing GC once quiet');
    assert.ok(youngGenerationBytes() <= 4 << 20, `young generation shrunk: ${grown} -> ${youngGenerationBytes()} bytes`);
    await sleep(400);
    assert.equal(q.releases(), 1, 'a small young generation is left alone');
  } finally {
    q.stop();
  }
});
