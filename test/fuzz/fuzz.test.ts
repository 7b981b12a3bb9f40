/**
 * The fuzz targets' short seeded runs (CI): each corpus, then a fixed number of generated inputs
 * from a fixed seed, so a failure here reproduces exactly. Longer runs: see test/fuzz/fuzz-runner.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from './fuzz-runner.js';
import { ROUTE_REGEX_TARGET } from './fuzz-route-regex.js';
import { ACCESS_LOG_TARGET } from './fuzz-access-log-format.js';

test('fuzz: route regex compilation and matching (seeded)', () => {
  const r = runFuzz(ROUTE_REGEX_TARGET, { seed: 20231, runs: 200 });
  assert.equal(r.inputs, 200);
  assert.ok(r.corpus > 0, 'the corpus was run');
});

test('fuzz: access-log format parser (seeded)', () => {
  const r = runFuzz(ACCESS_LOG_TARGET, { seed: 20231, runs: 1500 });
  assert.equal(r.inputs, 1500);
  assert.ok(r.corpus > 0, 'the corpus was run');
});
