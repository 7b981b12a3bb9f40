/**
 * The control plane's mesh config: Istio's defaults, or `--mesh-config FILE` applied over them.
 * The first load must succeed (a bad file stops the start); later edits of the file are picked
 * up by `poll()` like istiod's file watch: an edit with errors keeps the last good mesh config.
 */
import * as fs from 'node:fs';
import {
  defaultMeshConfig, loadMeshConfigFile, MeshConfigError, type MeshConfig, type ValidationMessage,
} from '../config/index.js';

export class MeshConfigSource {
  private mesh: MeshConfig = defaultMeshConfig();
  private stamp = '';

  constructor(readonly file: string | undefined) {}

  current(): MeshConfig {
    return this.mesh;
  }

  /** Loads the file; throws MeshConfigError (every message) on errors, ConfigPathError if unreadable. Returns warnings. */
  async load(): Promise<ValidationMessage[]> {
    if (!this.file) return [];
    this.stamp = this.fileStamp();
    const r = await loadMeshConfigFile(this.file);
    if (r.messages.some((m) => m.severity === 'error')) throw new MeshConfigError(this.file, r.messages);
    this.mesh = r.meshConfig;
    return r.messages;
  }

  /**
   * Re-reads the file if it changed. Resolves with undefined when nothing changed, else with
   * whether the new content was taken and the messages about it.
   */
  async poll(): Promise<{ applied: boolean; messages: ValidationMessage[] } | undefined> {
    if (!this.file) return undefined;
    const stamp = this.fileStamp();
    if (stamp === this.stamp) return undefined;
    this.stamp = stamp;
    try {
      const r = await loadMeshConfigFile(this.file);
      if (r.messages.some((m) => m.severity === 'error')) return { applied: false, messages: r.messages };
      const changed = JSON.stringify(r.meshConfig) !== JSON.stringify(this.mesh);
      this.mesh = r.meshConfig;
      return changed || r.messages.length ? { applied: changed, messages: r.messages } : undefined;
    } catch (err) {
      const file = this.file;
      return { applied: false, messages: [{ file, line: 0, kind: '', namespace: '', name: '', field: '', message: (err as Error).message, severity: 'error', code: 'CLEW_CONFIG_PATH' }] };
    }
  }

  private fileStamp(): string {
    try {
      const st = fs.statSync(this.file!);
      return `${st.mtimeMs}:${st.size}`;
    } catch {
      return 'missing';
    }
  }
}
