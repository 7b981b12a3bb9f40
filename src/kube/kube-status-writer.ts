/**
 * Writes Istio's status back to the config objects (status subresource, JSON merge patch), only
 * while this control plane holds the status Lease: `observedGeneration`, `validationMessages`
 * (level, type {code, name}, description, as istioctl analyze's messages in IstioStatus) and a
 * `Reconciled` condition. An object whose status already says the same is not written again, so
 * a relist or a restart writes nothing new.
 */
import type { ValidationMessage } from '../config/messages.js';
import type { KubeClient } from './kube-client.js';
import type { KubeConfigSource, ObservedObject } from './kube-config-source.js';
import { kindPath } from './kube-config-source.js';
import { isNotFound } from './kube-errors.js';
import type { LeaderElection } from './kube-leader.js';

const CONCURRENCY = 4;

export function messageText(m: ValidationMessage): string {
  return `${m.field ? `${m.field}: ` : ''}${m.message}`;
}

export function desiredStatus(o: ObservedObject): Record<string, unknown> {
  const status: Record<string, unknown> = {
    observedGeneration: o.object.metadata.generation ?? 0,
    conditions: [{
      type: 'Reconciled',
      status: o.valid ? 'True' : 'False',
      reason: o.valid ? 'Accepted' : 'Invalid',
      message: o.valid ? 'accepted by the control plane' : 'rejected by validation: the control plane keeps the last valid version',
    }],
  };
  if (o.messages.length) {
    status.validationMessages = o.messages.map((m) => ({
      level: m.severity === 'error' ? 'ERROR' : 'WARNING',
      type: { code: m.code, name: m.code },
      description: messageText(m),
    }));
  }
  return status;
}

/** Compares what matters (not timestamps). */
function sameStatus(current: any, want: Record<string, unknown>): boolean {
  if (!current) return false;
  const strip = (s: any) => ({
    observedGeneration: String(s?.observedGeneration ?? ''),
    conditions: (s?.conditions ?? []).map((c: any) => [c.type, c.status, c.reason, c.message]),
    validationMessages: s?.validationMessages ?? [],
  });
  return JSON.stringify(strip(current)) === JSON.stringify(strip(want));
}

export class KubeStatusWriter {
  private queue = new Set<string>();
  private inFlight = 0;
  private stopped = false;
  /** statuses written (for tests and /metrics) */
  writes = 0;
  private readonly log: (line: string) => void;

  constructor(
    private readonly client: KubeClient,
    private readonly source: KubeConfigSource,
    private readonly leader: LeaderElection,
    log?: (line: string) => void,
  ) {
    this.log = log ?? (() => {});
    source.on('observed', (key: string) => this.enqueue(key));
  }

  /** Called when leadership is gained: every object is checked once. */
  resyncAll(): void {
    for (const o of this.source.observedObjects()) this.enqueue(keyOf(o));
  }

  stop(): void {
    this.stopped = true;
    this.queue.clear();
  }

  private enqueue(key: string): void {
    if (this.stopped || !this.leader.isLeader()) return;
    this.queue.add(key);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < CONCURRENCY && this.queue.size > 0 && !this.stopped) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      const o = this.source.observedByKey(key);
      if (!o) continue;
      this.inFlight++;
      void this.write(o).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async write(o: ObservedObject): Promise<void> {
    const want = desiredStatus(o);
    if (sameStatus(o.object.status, want)) return;
    if (!this.leader.isLeader()) return;
    const ns = o.object.metadata.namespace ?? 'default';
    const path = `${kindPath(o.def, o.object.apiVersion?.split('/')[1], ns)}/${o.object.metadata.name}/status`;
    const now = new Date().toISOString();
    const conditions = (want.conditions as any[]).map((c) => {
      const prev = (o.object.status?.conditions ?? []).find((p: any) => p.type === c.type);
      return { ...c, lastProbeTime: now, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now };
    });
    try {
      await this.client.request('PATCH', path, { status: { validationMessages: null, ...want, conditions } }, { contentType: 'application/merge-patch+json' });
      this.writes++;
    } catch (err) {
      if (!isNotFound(err)) this.log(`status of ${o.def.kind} ${ns}/${o.object.metadata.name}: ${(err as Error).message}`);
    }
  }
}

function keyOf(o: ObservedObject): string {
  return `${o.def.kind}/${o.object.metadata.namespace ?? 'default'}/${o.object.metadata.name}`;
}
