import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { ConfigPathError, formatMessage, loadConfigPaths, resourceKey } from '../../src/config/index.js';
import { FIXTURES } from './fixtures.js';

test('a directory is read recursively, *.yaml and *.yml only, in name order', async () => {
  const r = await loadConfigPaths([join(FIXTURES, 'valid')]);
  assert.deepEqual(
    r.files?.map((f) => relative(FIXTURES, f)),
    ['valid/bookinfo-gateway.yaml', 'valid/nested/deployment.yaml', 'valid/nested/destination-rules.yaml', 'valid/nested/reviews.yml'],
  );
  assert.deepEqual(r.messages, []);
  assert.deepEqual(r.resources.map(resourceKey), [
    'Gateway/default/bookinfo-gateway',
    'VirtualService/default/bookinfo',
    'DestinationRule/default/reviews',
    'VirtualService/default/reviews',
  ]);
  assert.deepEqual(r.ignored.map((i) => `${relative(FIXTURES, i.file)}:${i.line} ${i.kind} ${i.name}`), ['valid/nested/deployment.yaml:2 Deployment reviews-v1']);
});

test('file names stay as the caller wrote them (relative in, relative out)', async () => {
  const rel = relative(process.cwd(), join(FIXTURES, 'invalid', 'vs.yaml'));
  const r = await loadConfigPaths([rel]);
  assert.deepEqual(r.messages.map(formatMessage), [`${rel}:14: VirtualService default/reviews: spec.http[0].route[1].weight: must be >= 0`]);
  assert.ok(!rel.startsWith('/'));
});

test('files and directories mix; the default namespace applies to all', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'clew-config-'));
  try {
    await writeFile(join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{name: http, port: 80}]\n');
    await writeFile(join(dir, 'b.json'), '{}');
    const r = await loadConfigPaths([dir, join(FIXTURES, 'warnings', 'dr.yaml')], { defaultNamespace: 'test' });
    assert.deepEqual(r.resources.map(resourceKey), ['Service/test/a', 'DestinationRule/test/httpbin']);
    assert.deepEqual(r.messages.map((m) => [m.severity, m.line, m.code]), [['warning', 9, 'CLEW_DEPRECATED']]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a missing path is a typed error', async () => {
  await assert.rejects(loadConfigPaths(['does/not/exist.yaml']), (err: unknown) => {
    assert.ok(err instanceof ConfigPathError);
    assert.equal(err.code, 'CLEW_CONFIG_PATH');
    assert.equal(err.message, 'does/not/exist.yaml: no such file or directory');
    return true;
  });
});
