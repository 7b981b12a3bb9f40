/**
 * The Helm chart in charts/clew, generated from the same objects `clew install` applies (so the
 * two cannot drift; a test renders the chart with `helm template` and compares): the CRDs in
 * `crds/` (Helm installs them before the templates and never deletes them), everything else in
 * `templates/clew.yaml` with the image as the one value (`--set image=...`).
 * Regenerate: `node dist/src/kube/install/install-chart.js [DIR]` (default charts/clew).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { DEFAULT_INSTALL, installObjects } from './install-manifest.js';

const IMAGE_MARK = '__CLEW_IMAGE__';

export function chartFiles(): Record<string, string> {
  const objects = installObjects({ ...DEFAULT_INSTALL, image: IMAGE_MARK });
  const yaml = (list: unknown[]) => list.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
  const head = '# Generated from src/kube/install/install-manifest.ts by src/kube/install/install-chart.ts: do not edit.\n';
  return {
    'Chart.yaml': 'apiVersion: v2\nname: clew\ndescription: Clew control plane (istiod\'s role), its CRDs and webhooks\ntype: application\nversion: 0.1.0\nappVersion: "0.1.0"\n',
    'values.yaml': `# Clew's image: the control plane and the injected init container and sidecar\nimage: ${DEFAULT_INSTALL.image}\n`,
    'crds/crds.yaml': head + yaml(objects.filter((o) => o.kind === 'CustomResourceDefinition')),
    'templates/clew.yaml': head + yaml(objects.filter((o) => o.kind !== 'CustomResourceDefinition')).split(IMAGE_MARK).join('{{ .Values.image }}'),
  };
}

export function writeChart(dir: string): void {
  for (const [name, text] of Object.entries(chartFiles())) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const dir = process.argv[2] ?? 'charts/clew';
  writeChart(dir);
  process.stdout.write(`wrote ${dir}\n`);
}
