#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with node's own test runner, one `node --test`
// process per file, CLEW_TEST_CONCURRENCY (default 2) at a time.
// Usage: node scripts/run-tests.js [substring-filter...]
//
// Each file runs in its own process group under a time limit (CLEW_TEST_FILE_TIMEOUT_S, default
// 300; the slowest file takes about 100 s on a loaded 2-core machine): a file that has not ended
// by then is killed with everything it started and counted as a failure that names it. (With one
// `node --test` over all files, a single hung file - an EADDRINUSE or a failed wait that left a
// server open - stalled the whole run until CI's own limit, with no name.) A file's output is
// printed in one piece when it ends (`--test-force-exit`: once its tests and hooks are done the
// file's process exits even if something it opened is still referenced); the totals, the slowest
// files and the failed files come last. The exit status is 0 only if every file passed.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

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

// Whole-suite runs on one machine take turns (several checkouts of one machine would otherwise
// run their timing-sensitive end-to-end tests at once): `flock` on a lock file in the temp dir.
// CLEW_SUITE_LOCK=0 turns it off; filtered runs never wait.
const lockFile = process.env.CLEW_SUITE_LOCK ?? join(tmpdir(), 'clew-suite.lock');
const takeTurns = !filters.length && lockFile !== '0' && !process.env.CLEW_SUITE_LOCKED && spawnSync('flock', ['--version']).status === 0;
if (takeTurns) {
  const r = spawnSync('flock', [lockFile, process.execPath, fileURLToPath(import.meta.url), ...filters], {
    stdio: 'inherit',
    env: { ...process.env, CLEW_SUITE_LOCKED: '1' },
  });
  process.exit(r.status ?? 1);
}

const concurrency = Math.max(1, Number(process.env.CLEW_TEST_CONCURRENCY ?? '2'));
const fileTimeoutMs = Math.max(1, Number(process.env.CLEW_TEST_FILE_TIMEOUT_S ?? '300')) * 1000;
const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

/** Runs one file; resolves with its output, exit status, duration and whether it timed out. */
function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks = [];
    const child = spawn(process.execPath, ['--test', '--test-force-exit', '--test-reporter=spec', file], {
      detached: true, // its own process group: a timeout kills what the file started too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    child.stdout.on('data', (b) => chunks.push(b));
    child.stderr.on('data', (b) => chunks.push(b));
    let timedOut = false;
    const killGroup = (signal) => {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 5000).unref();
    }, fileTimeoutMs);
    // 'exit', not 'close': a process the file left running may hold the pipes open for ever
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // let the pipes drain what the file wrote last, but never wait on a leftover holder
      setTimeout(() => {
        killGroup('SIGKILL');
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ file, output: Buffer.concat(chunks).toString(), code, signal, timedOut, ms: Date.now() - started });
      }, 200);
    });
  });
}

function counts(output, killed) {
  const c = {};
  for (const k of COUNTS) {
    const m = new RegExp(`^ℹ ${k} (\\d+)$`, 'm').exec(output);
    c[k] = m ? Number(m[1]) : 0;
  }
  if (killed) {
    // a killed file printed no totals: count the top-level results it did print
    c.pass = (output.match(/^✔ /gm) ?? []).length;
    c.fail = (output.match(/^✖ /gm) ?? []).length;
    c.tests = c.pass + c.fail;
  }
  return c;
}

const started = Date.now();
const totals = Object.fromEntries(COUNTS.map((k) => [k, 0]));
const failed = [];
const durations = [];
const queue = [...files];
async function worker() {
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    const r = await runFile(file);
    const c = counts(r.output, r.timedOut);
    for (const k of COUNTS) totals[k] += c[k];
    durations.push([file, r.ms]);
    process.stdout.write(`▶ ${file} (${(r.ms / 1000).toFixed(1)} s)\n${r.output}`);
    if (r.timedOut) {
      failed.push(`${file}: did not end within ${fileTimeoutMs / 1000} s (killed with its process group)`);
      process.stdout.write(`✖ ${file} did not end within ${fileTimeoutMs / 1000} s: killed\n`);
    } else if (r.code !== 0) {
      failed.push(`${file}: ${c.fail ? `${c.fail} failed` : `exit ${r.code ?? r.signal}`}`);
    }
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));

durations.sort((a, b) => b[1] - a[1]);
console.log('\n== suite');
console.log(`ℹ files ${files.length}`);
for (const k of COUNTS) console.log(`ℹ ${k} ${totals[k]}`);
console.log(`ℹ duration_ms ${Date.now() - started}`);
console.log('slowest files:');
for (const [f, ms] of durations.slice(0, 8)) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${f}`);
if (failed.length) {
  console.log('✖ failed files:');
  for (const f of failed) console.log(`  ${f}`);
}
process.exit(failed.length ? 1 : 0);
