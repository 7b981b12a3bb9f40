/**
 * The demo's config dir: a fresh temp dir seeded with copies of the samples' config files
 * (Services, the Bookinfo gateway, destination-rule-all) unless the user names one; the demo's
 * mesh config (tracing to the control plane) unless the user names one.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { SAMPLE_CONFIG_FILES, samplePath } from '../../samples/manifest.js';

export function seedDemoConfigDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clew-demo-config-'));
  SAMPLE_CONFIG_FILES.forEach((rel, i) => {
    // numbered so a directory reader applies them in manifest order (Services first)
    copyFileSync(samplePath(rel), join(dir, `${String(i + 1).padStart(2, '0')}-${basename(rel)}`));
  });
  return dir;
}

/** The demo's trace sampling: Istio's demo profile samples every request (traceSampling 100). */
export const DEMO_TRACE_SAMPLING = 100;

/**
 * The demo's mesh config when the user gives none: the sidecars' tracing goes to the control
 * plane's own Zipkin receiver (`POST /api/v2/spans` on its debug port) as an extension provider
 * and the default tracing provider, every request sampled, so the dashboard's Traces page fills
 * with no setup. Written to `<config dir>/.clew/demo-mesh-config.yaml` (the control plane's state
 * dir: not read as Istio config, and gone with a temporary config dir); `remove()` deletes it.
 */
export function writeDemoMeshConfig(configDir: string, collectorHost: string, collectorPort: number): { file: string; remove(): void } {
  const dir = join(configDir, '.clew');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'demo-mesh-config.yaml');
  writeFileSync(file, [
    '# written by clew demo: spans to the control plane\'s Zipkin receiver (the dashboard\'s Traces page)',
    'extensionProviders:',
    '- name: clew-control-plane-zipkin',
    `  zipkin: {service: ${JSON.stringify(collectorHost)}, port: ${collectorPort}}`,
    'defaultProviders:',
    '  tracing: [clew-control-plane-zipkin]',
    'defaultConfig:',
    `  tracing: {sampling: ${DEMO_TRACE_SAMPLING}}`,
    '',
  ].join('\n'));
  return { file, remove: () => rmSync(file, { force: true }) };
}
