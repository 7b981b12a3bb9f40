/**
 * The demo's config dir: a fresh temp dir seeded with copies of the samples' config files
 * (Services, the Bookinfo gateway, destination-rule-all) unless the user names one.
 */
import { copyFileSync, mkdtempSync } from 'node:fs';
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
