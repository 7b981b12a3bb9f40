/** NACK log lines: once per proxy, type and version, cut short, throttled (issue 23 item 8). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NackLog } from '../../src/control-plane/nack-log.js';

test('a NACK is logged once per proxy, type and version, with its message cut short', () => {
  const lines: string[] = [];
  const log = new NackLog((l) => lines.push(l));
  const long = `route config bad: ${'x'.repeat(10_000)}`;
  for (let i = 0; i < 50; i++) log.nack('sidecar~10.0.0.1~a.default~default.svc.cluster.local', 'RDS', '7', long);
  assert.equal(lines.length, 1);
  assert.ok(lines[0].length < 700, `${lines[0].length} characters`);
  assert.match(lines[0], /^NACK from sidecar~10\.0\.0\.1~a\.default~default\.svc\.cluster\.local for RDS version 7: route config bad: x+…$/);
  log.nack('sidecar~10.0.0.1~a.default~default.svc.cluster.local', 'RDS', '8', 'again');
  log.nack('sidecar~10.0.0.2~b.default~default.svc.cluster.local', 'RDS', '7', 'other proxy');
  assert.equal(lines.length, 3);
  assert.equal(log.dropped, 49);
});

test('a NACK storm is throttled to a few lines per window; the next line says how many were held back', () => {
  const lines: string[] = [];
  let now = 0;
  const log = new NackLog((l) => lines.push(l), 10, 10_000, () => now);
  for (let i = 0; i < 1000; i++) log.nack(`proxy-${i}`, 'LDS', '3', 'bad listener');
  assert.equal(lines.length, 10);
  now = 10_000;
  log.nack('proxy-late', 'LDS', '3', 'bad listener');
  assert.equal(lines.length, 11);
  assert.match(lines[10], /\(990 more NACKs not logged\)$/);
});
