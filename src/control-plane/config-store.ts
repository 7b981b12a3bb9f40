/**
 * The control plane's config store (Galley's role): the validated Istio configuration, kept in
 * memory and persisted as YAML files in the config directory. Apply validates first; invalid
 * config is refused with the validation messages and nothing changes. Files edited by hand are
 * picked up by `reload()` and validated the same way: a file with errors keeps its previous
 * (last good) resources and its messages are reported.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { ConfigResource } from '../config/types.js';
import {
  Codes,
  kindDefinition,
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

/** The config dir could not be written; nothing was changed. */
export class ConfigWriteError extends Error {
  readonly code = 'CLEW_CONFIG_WRITE';
  constructor(readonly dir: string, reason: string) {
    super(`could not write the config dir ${dir}: ${reason}; nothing was changed`);
  }
}

/** File names must fit every file system (255 bytes); long names get a hash instead of their tail. */
const MAX_FILE_NAME = 200;

/** The store's maps as one apply or delete changes them, before anything is written. */
class StoreTx {
  readonly touched = new Set<string>();
  private readonly fileResources = new Map<string, ConfigResource[]>();

  constructor(
    private readonly dir: string,
    readonly byKey: Map<string, ConfigResource>,
    readonly keyFile: Map<string, string>,
    private readonly current: (file: string) => ConfigResource[],
  ) {}

  resourcesOf(file: string): ConfigResource[] {
    return this.fileResources.get(file) ?? this.current(file);
  }

  private setFile(file: string, resources: ConfigResource[]): void {
    this.fileResources.set(file, resources);
    this.touched.add(file);
  }

  put(key: string, res: ConfigResource): void {
    const existing = this.keyFile.get(key);
    if (existing) {
      const rest = this.resourcesOf(existing).filter((r) => resourceKey(r) !== key);
      if (rest.length === 0) {
        // the resource's own file: rewrite it in place
        this.setFile(existing, [res]);
        this.byKey.set(key, res);
        return;
      }
      // it shared a hand-written file: leave the others there and give it a file of its own
      this.setFile(existing, rest);
    }
    const file = this.fileNameFor(key, res);
    this.setFile(file, [res]);
    this.byKey.set(key, res);
    this.keyFile.set(key, file);
  }

  remove(key: string): void {
    const file = this.keyFile.get(key);
    this.byKey.delete(key);
    this.keyFile.delete(key);
    if (file) this.setFile(file, this.resourcesOf(file).filter((r) => resourceKey(r) !== key));
  }

  /**
   * `<kind>-<namespace>-<name>.yaml`; a name too long for a file name, or a file that already
   * holds other resources (`a-b` + `c` and `a` + `b-c` give the same name), gets a hash of the key.
   */
  private fileNameFor(key: string, res: ConfigResource): string {
    const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
    const prefix = `${res.kind.toLowerCase()}-${safe(res.metadata.namespace)}-`;
    const plain = path.join(this.dir, `${prefix}${safe(res.metadata.name)}.yaml`);
    if (Buffer.byteLength(path.basename(plain)) <= MAX_FILE_NAME && this.isFree(plain, key)) return plain;
    const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
    const room = MAX_FILE_NAME - prefix.length - hash.length - '-.yaml'.length;
    return path.join(this.dir, `${prefix}${safe(res.metadata.name).slice(0, Math.max(0, room))}-${hash}.yaml`);
  }

  private isFree(file: string, key: string): boolean {
    const holders = this.resourcesOf(file);
    if (holders.length > 0) return holders.every((r) => resourceKey(r) === key);
    return !this.touched.has(file) && !fs.existsSync(file);
  }
}

export class ConfigStore extends EventEmitter {
  private files = new Map<string, FileState>();
  private byKey = new Map<string, ConfigResource>();
  private keyFile = new Map<string, string>();
  private rev = 0;
  /** applies and deletes, one at a time */
  private writes: Promise<unknown> = Promise.resolve();
  /** an apply's files are being written */
  private writing = false;
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

  /** Reads every YAML file of the directory; returns the change, if any (none while an apply writes: the next scan sees it). */
  reload(): ConfigChange | undefined {
    if (this.writing) return undefined;
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
  async apply(text: string, file: string): Promise<ApplyResult[]> {
    return (await this.applyText(text, file)).results;
  }

  /** apply() that also returns the documents it ignored (kinds outside Istio's API groups). */
  applyText(text: string, file: string): Promise<{ results: ApplyResult[]; ignored: IgnoredResource[] }> {
    return this.serial(() => this.applyNow(text, file));
  }

  /**
   * Writes run one at a time: each validates against the state the previous one left, and a
   * hand-edit scan waits for them (the files would be half renamed).
   */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writes.then(fn, fn);
    this.writes = run.catch(() => undefined);
    return run;
  }

  private async applyNow(text: string, file: string): Promise<{ results: ApplyResult[]; ignored: IgnoredResource[] }> {
    const parsed = parseConfigText(text, file);
    const errors = parsed.messages.filter((m) => m.severity === 'error');
    if (errors.length) throw new ConfigRejectedError(parsed.messages);
    const incoming = new Map(parsed.resources.map((r) => [resourceKey(r), r]));
    const union = this.all().filter((r) => !incoming.has(resourceKey(r))).concat(parsed.resources);
    const cross = validateResources(union).filter((m) => m.severity === 'error' && m.file === file);
    if (cross.length) throw new ConfigRejectedError(parsed.messages.concat(cross));

    const results: ApplyResult[] = [];
    const changed = new Set<string>();
    // all or nothing: every file is written (or nothing is) before memory changes and a push starts
    await this.transact((tx) => {
      for (const [key, res] of incoming) {
        const old = this.byKey.get(key);
        const base = { key, kind: res.kind, namespace: res.metadata.namespace, name: res.metadata.name };
        if (old && specEqual(old, res)) {
          results.push({ ...base, action: 'unchanged' });
          continue;
        }
        results.push({ ...base, action: old ? 'configured' : 'created' });
        tx.put(key, res);
        changed.add(key);
      }
    });
    this.commit(changed);
    return { results, ignored: parsed.ignored };
  }

  /**
   * Deletes the resources named in `text` (kind, namespace, name are enough; a spec with errors
   * does not stop a delete). A document of an Istio kind Clew does not implement refuses the
   * whole request, as apply does.
   */
  async deleteText(text: string, file: string): Promise<ApplyResult[]> {
    const parsed = parseConfigText(text, file);
    const refused = parsed.messages.filter((m) => m.code === Codes.unsupportedKind || m.code === Codes.yamlSyntax);
    if (refused.length) throw new ConfigRejectedError(refused);
    const keys = parsed.resources.map((r) => ({
      key: resourceKey(r), kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name,
    }));
    return this.deleteKeys(keys);
  }

  deleteKeys(items: { key: string; kind: string; namespace: string; name: string }[]): Promise<ApplyResult[]> {
    return this.serial(() => this.deleteNow(items));
  }

  private async deleteNow(items: { key: string; kind: string; namespace: string; name: string }[]): Promise<ApplyResult[]> {
    const results: ApplyResult[] = [];
    const changed = new Set<string>();
    await this.transact((tx) => {
      for (const it of items) {
        if (!this.byKey.has(it.key) || changed.has(it.key)) {
          results.push({ ...it, action: changed.has(it.key) ? 'deleted' : 'not found' });
          continue;
        }
        tx.remove(it.key);
        changed.add(it.key);
        results.push({ ...it, action: 'deleted' });
      }
    });
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

  /**
   * Runs `build` against a copy of the store's maps, then writes every touched file: first all
   * temporary files (where ENOSPC or a bad name would fail), then the renames; any failure removes
   * the temporary files and restores renamed ones, and throws ConfigWriteError with nothing
   * changed, on disk or in memory. Only then does the store take the new maps.
   */
  private async transact(build: (tx: StoreTx) => void): Promise<void> {
    const tx = new StoreTx(this.dir, new Map(this.byKey), new Map(this.keyFile), (f) => this.files.get(f)?.resources ?? []);
    build(tx);
    const writes = [...tx.touched].map((file) => ({ file, resources: tx.resourcesOf(file), text: '', tmp: '', backup: undefined as string | undefined }));
    const tmps: string[] = [];
    const renamed: typeof writes = [];
    this.writing = true;
    try {
      // asynchronous file I/O with a yield per batch: a large apply (thousands of files) leaves
      // the event loop free for ADS streams and the debug API
      for (const w of writes) {
        if (w.resources.length === 0) continue;
        w.text = toYaml(w.resources);
        w.tmp = `${w.file}.tmp-${process.pid}`;
        tmps.push(w.tmp); // a write that fails half way leaves a file to remove
        // Secrets (and any kind marked sensitive) are readable by the control plane's user only
        const sensitive = w.resources.some((r) => kindDefinition(r.kind)?.sensitive);
        await fsp.writeFile(w.tmp, w.text, { mode: sensitive ? 0o600 : 0o644 });
        if (sensitive) await fsp.chmod(w.tmp, 0o600);
      }
      for (const w of writes) {
        try {
          w.backup = await fsp.readFile(w.file, 'utf8');
        } catch {
          w.backup = undefined;
        }
        if (w.resources.length === 0) await fsp.rm(w.file, { force: true });
        else await fsp.rename(w.tmp, w.file);
        renamed.push(w);
      }
    } catch (err) {
      for (const t of tmps) fs.rmSync(t, { force: true });
      for (const w of renamed.reverse()) {
        try {
          if (w.backup !== undefined) fs.writeFileSync(w.file, w.backup);
          else fs.rmSync(w.file, { force: true });
        } catch {
          // the watcher's next scan reconciles what could not be restored
        }
      }
      throw new ConfigWriteError(this.dir, (err as Error).message);
    } finally {
      this.writing = false;
    }
    this.byKey = tx.byKey;
    this.keyFile = tx.keyFile;
    for (const w of writes) {
      if (w.resources.length === 0) {
        this.files.delete(w.file);
        this.ownWrites.delete(w.file);
        continue;
      }
      this.ownWrites.set(w.file, w.text);
      const st = fs.statSync(w.file);
      this.files.set(w.file, { mtimeMs: st.mtimeMs, size: st.size, resources: w.resources, messages: [] });
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
