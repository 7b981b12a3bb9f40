/**
 * Istio config from Kubernetes: one informer per kind of the kinds table in an Istio API group
 * (networking, security, telemetry), on the newest version the table accepts (the API server
 * converts objects stored at any served version). Each object is validated as `clew validate`
 * validates a file; a valid one joins the config, an invalid one is left out (the proxies keep
 * what they had), and both get their status written back by the status writer.
 */
import { EventEmitter } from 'node:events';
import { KINDS, isIstioGroup, type KindDefinition } from '../config/kinds.js';
import type { ConfigResource } from '../config/types.js';
import { validateResource } from '../config/validate-resource.js';
import type { ValidationMessage } from '../config/messages.js';
import type { ConfigChange } from '../control-plane/config-store.js';
import type { ConfigSource } from '../control-plane/control-plane.js';
import type { KubeClient, KubeObject } from './kube-client.js';
import { Informer } from './kube-informer.js';

/** Kinds read from CRDs: the table's kinds in Istio's groups. */
export function crdKinds(): KindDefinition[] {
  return KINDS.filter((k) => isIstioGroup(k.group));
}

export function kindPath(def: KindDefinition, version = def.versions[def.versions.length - 1], namespace?: string): string {
  return `/apis/${def.group}/${version}${namespace ? `/namespaces/${namespace}` : ''}/${def.plural}`;
}

/** The object as the config store holds a resource (metadata reduced to what validation knows). */
export function configFromKube(def: KindDefinition, o: KubeObject): ConfigResource {
  const md: ConfigResource['metadata'] = { name: o.metadata.name, namespace: o.metadata.namespace ?? 'default' };
  if (o.metadata.labels) md.labels = o.metadata.labels;
  if (o.metadata.annotations) {
    // kubectl's last-applied copy is no part of the resource
    const { 'kubectl.kubernetes.io/last-applied-configuration': _, ...rest } = o.metadata.annotations;
    if (Object.keys(rest).length) md.annotations = rest;
  }
  if (o.metadata.resourceVersion) md.resourceVersion = o.metadata.resourceVersion;
  return {
    apiVersion: o.apiVersion ?? `${def.group}/${def.versions[def.versions.length - 1]}`,
    kind: def.kind as ConfigResource['kind'],
    metadata: md,
    spec: o.spec,
    source: { file: `${def.plural}.${def.group}/${md.namespace}/${md.name}`, line: 0 } as ConfigResource['source'],
  };
}

export interface ObservedObject {
  def: KindDefinition;
  object: KubeObject;
  messages: ValidationMessage[];
  valid: boolean;
}

export class KubeConfigSource extends EventEmitter implements ConfigSource {
  readonly name = 'kubernetes';
  readonly informers = new Map<string, Informer>();
  private resources = new Map<string, ConfigResource>();
  private observed = new Map<string, ObservedObject>();
  private cached: ConfigResource[] | undefined;
  private changeListeners = new Set<(c: ConfigChange) => void>();
  private pending = new Map<string, string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private revision = 0;

  constructor(client: KubeClient, opts: { log?: (line: string) => void; backoffMs?: number; maxBackoffMs?: number } = {}) {
    super();
    for (const def of crdKinds()) {
      const inf = new Informer(client, { path: kindPath(def), optional: true, log: opts.log, backoffMs: opts.backoffMs, maxBackoffMs: opts.maxBackoffMs });
      inf.on({
        add: (o) => this.upsert(def, o),
        update: (o) => this.upsert(def, o),
        delete: (o) => this.remove(def, o),
      });
      this.informers.set(def.kind, inf);
    }
  }

  start(): this {
    for (const i of this.informers.values()) i.start();
    return this;
  }

  stop(): void {
    clearTimeout(this.flushTimer);
    for (const i of this.informers.values()) i.stop();
  }

  async synced(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.synced));
  }

  all(): ConfigResource[] {
    this.cached ??= [...this.resources.values()];
    return this.cached;
  }

  /** Every object seen, valid or not, with its messages (what the status writer reports). */
  observedObjects(): ObservedObject[] {
    return [...this.observed.values()];
  }

  observedByKey(key: string): ObservedObject | undefined {
    return this.observed.get(key);
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private upsert(def: KindDefinition, o: KubeObject): void {
    const res = configFromKube(def, o);
    const messages = validateResource(res);
    const valid = !messages.some((m) => m.severity === 'error');
    const key = `${def.kind}/${res.metadata.namespace}/${res.metadata.name}`;
    this.observed.set(key, { def, object: o, messages, valid });
    this.emit('observed', key);
    const before = this.resources.get(key);
    if (valid) {
      const { resourceVersion: _a, ...m1 } = res.metadata;
      const same = before && JSON.stringify([before.spec, { ...before.metadata, resourceVersion: undefined }]) === JSON.stringify([res.spec, { ...m1, resourceVersion: undefined }]);
      this.resources.set(key, res);
      this.cached = undefined;
      if (!same) this.changed(key, def.kind);
    } else if (before) {
      // an invalid update keeps the last valid version in force (as a bad file in the config dir does)
    }
  }

  private remove(def: KindDefinition, o: KubeObject): void {
    const key = `${def.kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
    this.observed.delete(key);
    this.emit('observed', key);
    if (this.resources.delete(key)) {
      this.cached = undefined;
      this.changed(key, def.kind);
    }
  }

  /** Changes within one tick go out as one ConfigChange (a relist of 1000 objects is one event). */
  private changed(key: string, kind: string): void {
    this.pending.set(key, kind);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const change: ConfigChange = { revision: ++this.revision, keys: [...this.pending.keys()], kinds: new Set(this.pending.values()) };
      this.pending.clear();
      for (const l of [...this.changeListeners]) l(change);
    }, 0);
  }
}
