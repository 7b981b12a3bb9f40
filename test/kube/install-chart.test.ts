/**
 * The Helm chart (charts/clew) is the generator's output, and `helm template` (helm built by
 * scripts/kube-tools.sh) renders exactly the objects `clew install` applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../helpers/paths.js';
import { assertGenerated } from '../helpers/assert-generated.js';
import { kubeApiServerSkip, kubeToolsDir } from '../helpers/kube-api-server.js';
import { chartFiles } from '../../src/kube/install/install-chart.js';
import { DEFAULT_INSTALL, installObjects } from '../../src/kube/install/install-manifest.js';

const CHART = path.join(REPO_ROOT, 'charts', 'clew');

test('charts/clew is what src/kube/install/install-chart.ts generates (node dist/src/kube/install/install-chart.js)', () => {
  for (const [name, text] of Object.entries(chartFiles())) {
    assertGenerated(fs.readFileSync(path.join(CHART, name), 'utf8'), text, `charts/clew/${name}`, 'node dist/src/kube/install/install-chart.js');
  }
});

test('helm template renders the objects clew install applies, with the image from the values', { skip: kubeApiServerSkip() }, () => {
  const helm = path.join(kubeToolsDir(), 'helm');
  const render = (args: string[]) => parseAllDocuments(execFileSync(helm, ['template', 'clew', CHART, '--include-crds', ...args]).toString())
    .map((d) => d.toJS()).filter((o) => o);
  const byKey = (list: any[]) => new Map(list.map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
  const want = byKey(JSON.parse(JSON.stringify(installObjects())));
  const got = byKey(render([]));
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [k, o] of want) assert.deepEqual(got.get(k), o, k);
  const other = byKey(render(['--set', 'image=registry.example/clew:2']));
  const mine = byKey(JSON.parse(JSON.stringify(installObjects({ ...DEFAULT_INSTALL, image: 'registry.example/clew:2' }))));
  assert.deepEqual(other.get('Deployment/istio-system/istiod'), mine.get('Deployment/istio-system/istiod'));
});
