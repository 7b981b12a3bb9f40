/**
 * Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection in small): the
 * holder renews every `renewMs`; another candidate takes the lease once `leaseDurationSeconds`
 * passed without a renewal. Updates carry the resourceVersion read, so two candidates racing for
 * an expired lease cannot both win (the loser gets 409 Conflict).
 */
import * as os from 'node:os';
import * as crypto from 'node:crypto';
import type { KubeClient, KubeObject } from './kube-client.js';
import { isConflict, isNotFound } from './kube-errors.js';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity?: string;
  leaseDurationSeconds?: number;
  renewMs?: number;
  log?: (line: string) => void;
  onChange?: (leader: boolean) => void;
}

export class LeaderElection {
  readonly identity: string;
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly log: (line: string) => void;

  constructor(private readonly client: KubeClient, private readonly opts: LeaderElectionOptions) {
    this.identity = opts.identity ?? `${os.hostname()}_${crypto.randomBytes(4).toString('hex')}`;
    this.log = opts.log ?? (() => {});
  }

  isLeader(): boolean {
    return this.leader;
  }

  start(): this {
    const tick = async () => {
      if (this.stopped) return;
      try {
        this.set(await this.tryAcquireOrRenew());
      } catch (err) {
        this.log(`leader election ${this.opts.namespace}/${this.opts.name}: ${(err as Error).message}`);
        this.set(false);
      }
      if (!this.stopped) {
        this.timer = setTimeout(() => void tick(), this.opts.renewMs ?? 2000);
        this.timer.unref();
      }
    };
    void tick();
    return this;
  }

  /** Stops renewing; a held lease is released (holder cleared) so another candidate takes it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leader) return;
    this.set(false);
    try {
      const lease = await this.client.get<KubeObject>(this.path());
      if (lease.spec?.holderIdentity !== this.identity) return;
      await this.client.request('PUT', this.path(), { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
    } catch {
      // the lease then expires by itself
    }
  }

  private set(v: boolean): void {
    if (v === this.leader) return;
    this.leader = v;
    this.log(`leader election ${this.opts.namespace}/${this.opts.name}: ${v ? 'became the leader' : 'not the leader'} (${this.identity})`);
    this.opts.onChange?.(v);
  }

  private path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases${name === '' ? '' : `/${name ?? this.opts.name}`}`;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    const duration = this.opts.leaseDurationSeconds ?? 15;
    let lease: KubeObject;
    try {
      lease = await this.client.get<KubeObject>(this.path());
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.client.request('POST', this.path(''), {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: duration, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        });
        return true;
      } catch (e) {
        if (isConflict(e)) return false;
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const mine = spec.holderIdentity === this.identity;
    const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '') || 0;
    const expired = !spec.holderIdentity || renewed + (spec.leaseDurationSeconds ?? duration) * 1000 < Date.now();
    if (!mine && !expired) return false;
    const next = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.identity,
        leaseDurationSeconds: duration,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      await this.client.request('PUT', this.path(), next);
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }
}
