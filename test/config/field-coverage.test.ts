/** docs/field-coverage.md is generated from the schema code; the committed copy must be current. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fieldCoverage, renderFieldCoverage } from '../../src/config/field-coverage.js';
import { REPO_ROOT } from './fixtures.js';
import { assertGenerated } from '../helpers/assert-generated.js';

test('the committed field-coverage table matches the schema (regenerate: node scripts/write-field-coverage.js)', () => {
  const committed = readFileSync(join(REPO_ROOT, 'docs/field-coverage.md'), 'utf8');
  assertGenerated(committed, renderFieldCoverage(), 'docs/field-coverage.md', 'node scripts/write-field-coverage.js');
});

test('every field that is not implemented says why', () => {
  for (const r of fieldCoverage()) {
    if (r.status !== 'implemented') assert.notEqual(r.note, '', `${r.kind} ${r.path}`);
  }
  const dr = fieldCoverage().filter((r) => r.kind === 'DestinationRule');
  assert.equal(dr.find((r) => r.path === 'spec.trafficPolicy.retryBudget')?.status, 'noEffect');
  assert.equal(dr.find((r) => r.path === 'spec.trafficPolicy.tls.caCrl')?.status, 'refused');
  assert.equal(dr.find((r) => r.path === 'spec.trafficPolicy.tls.mode')?.status, 'implemented');
});
