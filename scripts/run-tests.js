#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's own test runner.
// Usage: node scripts/run-tests.js [substring-filter...]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
let files = walk('dist/test', []).sort();
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const concurrency = process.env.CLEW_TEST_CONCURRENCY ?? '2';
const args = ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files];
// Whole-suite runs on one machine take turns (several checkouts of one machine would otherwise
// run their timing-sensitive end-to-end tests at once): `flock` on a lock file in the temp dir.
// CLEW_SUITE_LOCK=0 turns it off; filtered runs never wait.
const lockFile = process.env.CLEW_SUITE_LOCK ?? join(tmpdir(), 'clew-suite.lock');
const takeTurns = !filters.length && lockFile !== '0' && spawnSync('flock', ['--version']).status === 0;
const r = takeTurns
  ? spawnSync('flock', [lockFile, process.execPath, ...args], { stdio: 'inherit' })
  : spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
