/**
 * A committed generated file must equal what its generator writes now. Not assert.equal: its diff
 * of two large texts (the chart's CRDs are ~100 KB) ran for minutes, until the test runner killed
 * the file. This names the first differing line instead, at once.
 */
import assert from 'node:assert/strict';

export function assertGenerated(have: string, want: string, what: string, regenerate: string): void {
  if (have === want) return;
  const a = have.split('\n');
  const b = want.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  assert.fail(`${what} is stale (regenerate: ${regenerate}); first difference at line ${i + 1}: committed ${JSON.stringify(a[i] ?? '(end of file)')}, generated ${JSON.stringify(b[i] ?? '(end of file)')}`);
}
