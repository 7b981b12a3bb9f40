/**
 * Every Istio YAML block of the seed design text must validate without errors. Blocks are
 * extracted at test time so the test follows the document.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { formatMessage, parseConfigText, validateResources, type ConfigResource } from '../../src/config/index.js';

// shared/ sits beside the repository, for developers and CI alike
const SEED = process.env.CLEW_SEED_DOC ?? path.join(REPO_ROOT, '..', 'shared', 'seed', 'service-mesh-istio.md');
const blocks = [...readFileSync(SEED, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
const isObjectBlock = (b: string) => /^kind: /m.test(b);

test('the seed has the expected YAML blocks', () => {
  assert.ok(blocks.length >= 7, `found ${blocks.length} yaml blocks`);
  // The only block without `kind:` is an elided container spec fragment (`......` lines),
  // an illustration, not a Kubernetes object.
  const fragments = blocks.filter((b) => !isObjectBlock(b));
  assert.equal(fragments.length, 1);
  assert.match(fragments[0], /name: istio-proxy/);
});

test('every configuration block of the seed validates with no errors', () => {
  const all: ConfigResource[] = [];
  blocks.forEach((b, i) => {
    if (!isObjectBlock(b)) return;
    const r = parseConfigText(b, `seed-block-${i + 1}.yaml`);
    assert.deepEqual(r.messages.map(formatMessage), [], `block ${i + 1}`);
    all.push(...r.resources);
  });
  const kinds = all.map((r) => `${r.kind}/${r.metadata.name}`);
  for (const k of ['Gateway/bookinfo-gateway', 'VirtualService/bookinfo', 'VirtualService/reviews', 'VirtualService/ratings', 'ServiceEntry/httpbin-ext', 'VirtualService/httpbin-ext']) {
    assert.ok(kinds.includes(k), `${k} in ${kinds.join(', ')}`);
  }
  // Cross-resource analysis may warn (the seed's DestinationRules live in Istio's samples) but never errs.
  assert.deepEqual(validateResources(all).filter((m) => m.severity === 'error').map(formatMessage), []);
});

test('the Kiali Secret block loads as a Secret (credentials for credentialName are Secrets) and validates', () => {
  const secret = blocks.find((b) => /^kind: Secret$/m.test(b));
  assert.ok(secret);
  const r = parseConfigText(secret, 'kiali.yaml');
  assert.deepEqual(r.messages, []);
  assert.deepEqual(r.resources.map((x) => `${x.kind} ${x.metadata.name}`), ['Secret kiali']);
  assert.deepEqual(r.ignored, []);
});

test('the delay fault of the seed (deprecated percent + fixedDelay) is kept as written', () => {
  const block = blocks.find((b) => b.includes('fixedDelay: 7s'));
  assert.ok(block);
  const [vs] = parseConfigText(block, 'ratings.yaml').resources;
  const spec = vs.spec as { http: { fault?: { delay?: { percent?: number; fixedDelay?: string } } }[] };
  assert.deepEqual(spec.http[0].fault?.delay, { percent: 100, fixedDelay: '7s' });
});
