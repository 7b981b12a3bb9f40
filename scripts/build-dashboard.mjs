#!/usr/bin/env node
// Builds the dashboard's browser files into dist/dashboard: type-checks src/dashboard/ui
// (tsconfig.dashboard-ui.json: DOM types), bundles it with esbuild (Cytoscape.js included: the
// page loads nothing from elsewhere), and copies index.html and app.css.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ui = join(root, 'src', 'dashboard', 'ui');
const out = join(root, 'dist', 'dashboard');
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.dashboard-ui.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(ui, 'app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  platform: 'browser',
  format: 'iife',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(ui, f), join(out, f));
