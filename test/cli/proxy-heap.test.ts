/** The proxy's young-generation hold: released by traffic (frequent scavenges), not by idling. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { holdYoungGeneration, releaseUnderLoad, youngGenerationHeld } from '../../src/cli/proxy-heap.js';

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
