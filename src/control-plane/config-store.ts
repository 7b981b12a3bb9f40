/**
 * The control plane's config store (Galley's role): the validated Istio configuration, kept in
 * memory and persisted as YAML files in the config directory. Apply validates first; invalid
 * config is refused with the validation messages and nothing changes. Files edited by hand are
 * picked up by `reload()` and validated the same way: a file with errors keeps its previous
 * (last good) resources and its messages are reported.
 */
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ConfigResource } from '../config/types.js';
import {
  Codes,
  parseConfigText,
  validateResources,
  resourceKey,
  toYaml,
  type IgnoredResource,
  type ValidationMessage,
} from '../config/index.js';

export interface ConfigChange {
  revision: number;
  /** `Kind/namespace/name` of every resource added, changed or removed */
  keys: string[];
  kinds: Set<string>;
}

export interface ApplyResult {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  action: 'created' | 'configured' | 'unchanged' | 'deleted' | 'not found';
}

export class ConfigRejectedError extends Error {
  readonly code = 'CLEW_CONFIG_REJECTED';
  constructor(readonly messages: ValidationMessage[]) {
    super(`configuration rejected: ${messages.filter((m) => m.severity === 'error').length} error(s)`);
  }
}

interface FileState {
  mtimeMs: number;
  size: number;
  resources: ConfigResource[];
  messages: ValidationMessage[];
}

const YAML_EXT = /\.ya?ml$/i;

function specEqual(a: ConfigResource, b: ConfigResource): boolean {
  return (
    JSON.stringify([a.apiVersion, a.metadata.labels ?? {}, a.metadata.annotations ?? {}, a.spec]) ===
    JSON.stringify([b.apiVersion, b.metadata.labels ?? {}, b.metadata.annotations ?? {}, b.spec])
  );
}

export class ConfigStore extends EventEmitter {
  private files = new Map<string, FileState>();
  private byKey = new Map<string, ConfigResource>();
  private keyFile = new Map<string, string>();
  private rev = 0;
  /** files we wrote ourselves: the watcher must not treat them as hand edits twice */
  private ownWrites = new Map<string, string>();

  constructor(readonly dir: string) {
    super();
    fs.mkdirSync(dir, { recursive: true });
  }

  get revision(): number {
    return this.rev;
  }

  all(): ConfigResource[] {
    return [...this.byKey.values()];
  }

  get(kind: string, namespace: string, name: string): ConfigResource | undefined {
    return this.byKey.get(`${kind}/${namespace}/${name}`);
  }

  list(kind?: string, namespace?: string, name?: string): ConfigResource[] {
    const lc = kind?.toLowerCase();
    return this.all()
      .filter((r) => !lc || r.kind.toLowerCase() === lc)
      .filter((r) => !namespace || r.metadata.namespace === namespace)
      .filter((r) => !name || r.metadata.name === name)
      .sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
  }

  /** Messages of hand-edited files that were rejected (their previous content still serves). */
  rejectedFiles(): { file: string; messages: ValidationMessage[] }[] {
    const out: { file: string; messages: ValidationMessage[] }[] = [];
    for (const [file, st] of this.files) {
      if (st.messages.some((m) => m.severity === 'error')) out.push({ file, messages: st.messages });
    }
    return out;
  }

  /** Reads every YAML file of the directory; returns the change, if any. */
  reload(): ConfigChange | undefined {
    const seen = new Set<string>();
    const changedKeys = new Set<string>();
    for (const file of this.listFiles()) {
      seen.add(file);
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        continue;
      }
      const prev = this.files.get(file);
      if (prev && prev.mtimeMs === st.mtimeMs && prev.size === st.size) continue;
      const text = fs.readFileSync(file, 'utf8');
      if (this.ownWrites.get(file) === text && prev) {
        this.files.set(file, { ...prev, mtimeMs: st.mtimeMs, size: st.size });
        continue;
      }
      const rel = path.relative(this.dir, file) || path.basename(file);
      const parsed = parseConfigText(text, rel);
      let errors = parsed.messages.filter((m) => m.severity === 'error');
      if (errors.length === 0) {
        const others = this.all().filter((r) => this.keyFile.get(resourceKey(r)) !== file);
        const cross = validateResources([...others, ...parsed.resources]).filter(
          (m) => m.severity === 'error' && m.file === rel,
        );
        errors = cross;
      }
      if (errors.length > 0) {
        // keep the last good content of this file; record why
        this.files.set(file, {
          mtimeMs: st.mtimeMs,
          size: st.size,
          resources: prev?.resources ?? [],
          messages: parsed.messages.concat(errors.filter((e) => !parsed.messages.includes(e))),
        });
        this.emit('rejected', rel, errors);
        continue;
      }
      this.replaceFile(file, parsed.resources, changedKeys);
      this.files.set(file, { mtimeMs: st.mtimeMs, size: st.size, resources: parsed.resources, messages: parsed.messages });
    }
    for (const file of [...this.files.keys()]) {
      if (!seen.has(file)) {
        this.replaceFile(file, [], changedKeys);
        this.files.delete(file);
      }
    }
    return this.commit(changedKeys);
  }

  /**
   * Applies resources parsed from `text` (named `file` in messages). Throws ConfigRejectedError
   * with every message when anything is invalid; nothing changes then.
   */
  apply(text: string, file: string): ApplyResult[] {
    return this.applyText(text, file).results;
  }

  /** apply() that also returns the documents it ignored (kinds outside Istio's API groups). */
  applyText(text: string, file: string): { results: ApplyResult[]; ignored: IgnoredResource[] } {
    const parsed = parseConfigText(text, file);
    const errors = parsed.messages.filter((m) => m.severity === 'error');
    if (errors.length) throw new ConfigRejectedError(parsed.messages);
    const incoming = new Map(parsed.resources.map((r) => [resourceKey(r), r]));
    const union = this.all().filter((r) => !incoming.has(resourceKey(r))).concat(parsed.resources);
    const cross = validateResources(union).filter((m) => m.severity === 'error' && m.file === file);
    if (cross.length) throw new ConfigRejectedError(parsed.messages.concat(cross));

    const results: ApplyResult[] = [];
    const changed = new Set<string>();
    for (const [key, res] of incoming) {
      const old = this.byKey.get(key);
      const base = { key, kind: res.kind, namespace: res.metadata.namespace, name: res.metadata.name };
      if (old && specEqual(old, res)) {
        results.push({ ...base, action: 'unchanged' });
        continue;
      }
      results.push({ ...base, action: old ? 'configured' : 'created' });
      this.persist(key, res);
      changed.add(key);
    }
    this.commit(changed);
    return { results, ignored: parsed.ignored };
  }

  /**
   * Deletes the resources named in `text` (kind, namespace, name are enough; a spec with errors
   * does not stop a delete). A document of an Istio kind Clew does not implement refuses the
   * whole request, as apply does.
   */
  deleteText(text: string, file: string): ApplyResult[] {
    const parsed = parseConfigText(text, file);
    const refused = parsed.messages.filter((m) => m.code === Codes.unsupportedKind || m.code === Codes.yamlSyntax);
    if (refused.length) throw new ConfigRejectedError(refused);
    const keys = parsed.resources.map((r) => ({
      key: resourceKey(r), kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name,
    }));
    return this.deleteKeys(keys);
  }

  deleteKeys(items: { key: string; kind: string; namespace: string; name: string }[]): ApplyResult[] {
    const results: ApplyResult[] = [];
    const changed = new Set<string>();
    for (const it of items) {
      if (!this.byKey.has(it.key)) {
        results.push({ ...it, action: 'not found' });
        continue;
      }
      this.unpersist(it.key);
      changed.add(it.key);
      results.push({ ...it, action: 'deleted' });
    }
    this.commit(changed);
    return results;
  }

  // ------------------------------------------------------------------ internals
  private listFiles(): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
      let entries: fs.Dirent[];
      try {
        entries = fs.readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (YAML_EXT.test(e.name)) out.push(p);
      }
    };
    walk(this.dir);
    return out.sort();
  }

  private replaceFile(file: string, resources: ConfigResource[], changed: Set<string>): void {
    const before = this.files.get(file)?.resources ?? [];
    const now = new Map(resources.map((r) => [resourceKey(r), r]));
    for (const r of before) {
      const k = resourceKey(r);
      if (!now.has(k) && this.keyFile.get(k) === file) {
        this.byKey.delete(k);
        this.keyFile.delete(k);
        changed.add(k);
      }
    }
    for (const [k, r] of now) {
      const old = this.byKey.get(k);
      if (!old || !specEqual(old, r)) changed.add(k);
      this.byKey.set(k, r);
      this.keyFile.set(k, file);
    }
  }

  private fileNameFor(res: ConfigResource): string {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
    return path.join(this.dir, `${res.kind.toLowerCase()}-${safe(res.metadata.namespace)}-${safe(res.metadata.name)}.yaml`);
  }

  private writeFile(file: string, resources: ConfigResource[]): void {
    const text = toYaml(resources);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
    this.ownWrites.set(file, text);
    const st = fs.statSync(file);
    this.files.set(file, { mtimeMs: st.mtimeMs, size: st.size, resources, messages: [] });
  }

  private persist(key: string, res: ConfigResource): void {
    const existing = this.keyFile.get(key);
    if (existing) {
      const st = this.files.get(existing);
      const rest = (st?.resources ?? []).filter((r) => resourceKey(r) !== key);
      if (rest.length === 0) {
        this.writeFile(existing, [res]);
        this.byKey.set(key, res);
        return;
      }
      this.writeFile(existing, rest);
    }
    const file = this.fileNameFor(res);
    this.writeFile(file, [res]);
    this.byKey.set(key, res);
    this.keyFile.set(key, file);
  }

  private unpersist(key: string): void {
    const file = this.keyFile.get(key);
    this.byKey.delete(key);
    this.keyFile.delete(key);
    if (!file) return;
    const rest = (this.files.get(file)?.resources ?? []).filter((r) => resourceKey(r) !== key);
    if (rest.length === 0) {
      fs.rmSync(file, { force: true });
      this.files.delete(file);
      this.ownWrites.delete(file);
    } else {
      this.writeFile(file, rest);
    }
  }

  private commit(changed: Set<string>): ConfigChange | undefined {
    if (changed.size === 0) return undefined;
    this.rev++;
    const kinds = new Set([...changed].map((k) => k.split('/')[0]));
    const change: ConfigChange = { revision: this.rev, keys: [...changed], kinds };
    this.emit('change', change);
    return change;
  }
}
