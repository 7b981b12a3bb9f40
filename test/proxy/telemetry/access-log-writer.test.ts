import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AccessLogWriter, openAccessLogSink, type AccessLogSink } from '../../../src/proxy/telemetry/access-log-writer.js';
import { StatsStore } from '../../../src/stats/stats-store.js';
import { waitFor } from './telemetry-fixtures.js';

test('writes lines to a real file asynchronously, batched, in order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-al-'));
  const file = path.join(dir, 'access.log');
  const w = new AccessLogWriter(openAccessLogSink(file));
  for (let i = 0; i < 500; i++) w.log(`line ${i}\n`);
  // nothing was written synchronously: log() only buffers
  assert.equal(fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '', '');
  await w.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.length, 500);
  assert.equal(lines[0], 'line 0');
  assert.equal(lines[499], 'line 499');
  assert.equal(w.written, 500);
  assert.equal(w.dropped, 0);
  fs.rmSync(dir, { recursive: true });
});

test('a stalled sink never blocks log(); overflow is dropped and counted', async () => {
  const calls: string[] = [];
  let release: (() => void) | undefined;
  const stalled: AccessLogSink = {
    write: (data, cb) => {
      calls.push(data);
      release = () => cb(null);
    },
  };
  const store = new StatsStore();
  const sc = store.scope('access_logs.file.');
  const w = new AccessLogWriter(stalled, {
    maxBufferBytes: 1000,
    counters: { written: sc.counter('write_completed'), dropped: sc.counter('write_dropped') },
  });
  const line = 'x'.repeat(99) + '\n'; // 100 bytes
  w.log(line);
  await waitFor(() => calls.length === 1); // first write in flight, never completes
  const t0 = performance.now();
  for (let i = 0; i < 10000; i++) w.log(line);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 200, `log() must not block (took ${elapsed} ms)`);
  assert.equal(w.buffered, 10, 'buffer bounded at 1000 bytes');
  assert.equal(w.dropped, 9990);
  assert.equal(store.scope('access_logs.file.').counter('write_dropped').value, 9990);
  assert.equal(calls.length, 1, 'one write in flight at a time');
  // the sink recovers: the buffered lines go out in one write
  release!();
  await waitFor(() => calls.length === 2);
  assert.equal(calls[1], line.repeat(10));
  release!();
  await w.close();
  assert.equal(w.written, 11);
  assert.equal(sc.counter('write_completed').value, 11);
});

test('write errors are counted, not thrown', async () => {
  const failing: AccessLogSink = { write: (_d, cb) => setImmediate(() => cb(new Error('EIO'))) };
  const w = new AccessLogWriter(failing);
  w.log('a\n');
  w.log('b\n');
  await waitFor(() => w.failed === 2);
  assert.equal(w.written, 0);
  await w.close();
  w.log('after close\n');
  assert.equal(w.dropped, 1);
});

test('a real stalled pipe (FIFO nobody reads): the event loop stays free, overflow dropped', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-fifo-'));
  const fifo = path.join(dir, 'log.fifo');
  const { spawnSync } = await import('node:child_process');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  // a reader that never reads keeps the pipe open, so the writer's 64 KiB pipe buffer fills up
  const readerFd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = new AccessLogWriter(openAccessLogSink(fifo), { maxBufferBytes: 256 * 1024 });
  const line = 'y'.repeat(1023) + '\n';
  const t0 = performance.now();
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 100; i++) w.log(line);
    await new Promise((r) => setImmediate(r)); // the loop keeps turning while the pipe is full
  }
  const elapsed = performance.now() - t0;
  assert.ok(elapsed < 1500, `event loop stayed responsive (${elapsed} ms)`);
  await waitFor(() => w.dropped > 0);
  assert.ok(w.written * 1024 <= 256 * 1024, 'at most a pipe buffer plus one write reached the pipe');
  assert.ok(w.dropped + w.buffered + w.written <= 2000);
  // the reader wakes up and drains the pipe: everything not dropped arrives, in order
  const buf = Buffer.alloc(1 << 16);
  let received = 0;
  const deadline = Date.now() + 5000;
  while (w.written + w.dropped < 2000 || received < w.written * 1024) {
    if (Date.now() > deadline) assert.fail(`drain timed out: written ${w.written} dropped ${w.dropped} received ${received}`);
    try {
      received += fs.readSync(readerFd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  assert.equal(received, w.written * 1024);
  assert.equal(w.failed, 0);
  await w.close(500);
  fs.closeSync(readerFd);
  fs.rmSync(dir, { recursive: true });
});

test('lines wait for 64 KiB or the flush interval (Envoy file logger), so a busy proxy writes rarely', async () => {
  const calls: string[] = [];
  const sink: AccessLogSink = { write: (data, cb) => { calls.push(data); setImmediate(() => cb(null)); } };
  const w = new AccessLogWriter(sink, { flushIntervalMs: 300 });
  const line = 'y'.repeat(1023) + '\n'; // 1 KiB
  for (let i = 0; i < 10; i++) w.log(line);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls.length, 0, '10 KiB waits for the interval');
  await waitFor(() => calls.length === 1);
  assert.equal(calls[0], line.repeat(10), 'the interval wrote everything waiting in one write');
  for (let i = 0; i < 64; i++) w.log(line);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(calls.length, 2, '64 KiB waiting is written at once, before the interval');
  assert.equal(calls[1].length, 64 * 1024);
  await w.close();
});
