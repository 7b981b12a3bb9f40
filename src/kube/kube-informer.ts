/**
 * An informer (client-go's reflector + store, in small): list (paged) then watch from the list's
 * resourceVersion with bookmarks, resume a watch that ended from the last resourceVersion seen,
 * relist when the server says that version is gone (410 / Expired), and back off (exponential
 * with jitter, reset by a watch that connects) while the API server cannot be reached. The store
 * is a map `namespace/name` → object; handlers see every add, update and delete, including the
 * differences a relist finds.
 *
 * client-node's own ListWatch neither asks for bookmarks nor backs off (an error stops it), so the
 * loop is here; the transport (KubeConfig credentials, the Watch stream) is client-node's.
 */
import type { KubeClient, KubeList, KubeObject, WatchEventType } from './kube-client.js';
import { isGone, isNotFound, KubeError } from './kube-errors.js';

export interface InformerHandlers<T extends KubeObject> {
  add?(obj: T): void;
  update?(obj: T, old: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  /** collection path, e.g. /api/v1/services or /apis/networking.istio.io/v1/virtualservices */
  path: string;
  pageSize?: number;
  labelSelector?: string;
  /** first retry delay (default 250 ms), doubled up to maxBackoffMs (default 30 s), with jitter */
  backoffMs?: number;
  maxBackoffMs?: number;
  log?: (line: string) => void;
  /** a kind that may not be served (a CRD): a 404 counts as synced and empty, retried with backoff */
  optional?: boolean;
}

export interface InformerStats {
  lists: number;
  /** lists after the first: a 410 or an error without a resourceVersion to resume from */
  relists: number;
  /** watches that ended with 410 Gone / Expired */
  expired: number;
  watches: number;
  bookmarks: number;
  events: number;
  errors: number;
  lastError?: string;
}

export function objectKey(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private resourceVersion = '';
  private stopped = false;
  private controller: AbortController | undefined;
  private wake: (() => void) | undefined;
  private syncedResolve!: () => void;
  private hasSynced = false;
  readonly synced: Promise<void>;
  readonly stats: InformerStats = { lists: 0, relists: 0, expired: 0, watches: 0, bookmarks: 0, events: 0, errors: 0 };
  private readonly log: (line: string) => void;

  constructor(private readonly client: KubeClient, readonly options: InformerOptions) {
    this.log = options.log ?? (() => {});
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  on(h: InformerHandlers<T>): this {
    this.handlers.push(h);
    return this;
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  get size(): number {
    return this.store.size;
  }

  isSynced(): boolean {
    return this.hasSynced;
  }

  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  start(): this {
    void this.run();
    return this;
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    this.wake?.();
  }

  private async run(): Promise<void> {
    let delay = 0;
    const base = this.options.backoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 30_000;
    const backoff = async () => {
      delay = delay === 0 ? base : Math.min(max, delay * 2);
      await this.sleep(delay / 2 + Math.random() * (delay / 2));
    };
    while (!this.stopped) {
      if (!this.resourceVersion) {
        try {
          await this.relist();
        } catch (err) {
          this.failed(err, 'list');
          await backoff();
          continue;
        }
      }
      if (this.stopped) break;
      const r = await this.watchOnce(() => (delay = 0));
      if (r === 'gone') {
        this.stats.expired++;
        this.log(`${this.options.path}: watch from resourceVersion ${this.resourceVersion} expired (410); listing again`);
        this.resourceVersion = '';
      } else if (r !== 'ended') {
        this.failed(r, 'watch');
        await backoff();
      }
    }
  }

  private failed(err: unknown, what: string): void {
    if (this.stopped) return;
    this.stats.errors++;
    const msg = err instanceof Error ? err.message : String(err);
    if (this.stats.lastError !== msg) this.log(`${this.options.path}: ${what} failed, retrying with backoff: ${msg}`);
    this.stats.lastError = msg;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      let page: KubeList<T>;
      try {
        page = await this.client.get<KubeList<T>>(this.options.path, {
          query: { limit: this.options.pageSize ?? 500, continue: cont, labelSelector: this.options.labelSelector },
          timeoutMs: 60_000,
        });
      } catch (err) {
        // a continue token that expired mid-list: start the list again
        if (cont && isGone(err)) {
          items.length = 0;
          cont = undefined;
          continue;
        }
        if (isNotFound(err)) {
          // an optional kind (a CRD not installed yet) counts as listed, empty; the list is retried
          if (this.options.optional) this.markSynced();
          throw new KubeError('KUBE_API', `${this.options.path}: not served (is the CRD installed?)`, 404, 'NotFound');
        }
        throw err;
      }
      items.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion ?? rv;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    if (this.stats.lists++ > 0) this.stats.relists++;
    const seen = new Set<string>();
    for (const obj of items) {
      seen.add(objectKey(obj));
      this.upsert(obj);
    }
    for (const [key, old] of [...this.store]) {
      if (seen.has(key)) continue;
      this.store.delete(key);
      for (const h of this.handlers) h.delete?.(old);
    }
    this.resourceVersion = rv;
    this.markSynced();
  }

  private markSynced(): void {
    if (this.hasSynced) return;
    this.hasSynced = true;
    this.syncedResolve();
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
    this.store.set(key, obj);
    for (const h of this.handlers) {
      if (old) h.update?.(obj, old);
      else h.add?.(obj);
    }
  }

  /** One watch request: 'ended' (closed normally), 'gone' (410) or the error. */
  private watchOnce(connected: () => void): Promise<'ended' | 'gone' | unknown> {
    return new Promise((resolve) => {
      let result: 'ended' | 'gone' | unknown = 'ended';
      let finished = false;
      const finish = (r: unknown) => {
        if (finished) return;
        finished = true;
        resolve(r);
      };
      this.stats.watches++;
      const onEvent = (type: WatchEventType, obj: any) => {
        if (type === 'ERROR') {
          result = obj?.code === 410 || obj?.reason === 'Expired' || obj?.reason === 'Gone'
            ? 'gone'
            : new KubeError('KUBE_API', `watch ${this.options.path}: ${obj?.code ?? ''} ${obj?.message ?? 'error event'}`, Number(obj?.code) || 0, obj?.reason ?? '');
          this.controller?.abort();
          return;
        }
        const rv = obj?.metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          this.stats.bookmarks++;
        } else if (obj?.metadata?.name) {
          this.stats.events++;
          if (type === 'DELETED') {
            const key = objectKey(obj);
            const old = this.store.get(key);
            if (old) {
              this.store.delete(key);
              for (const h of this.handlers) h.delete?.(obj as T);
            }
          } else {
            this.upsert(obj as T);
          }
        }
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (err?: unknown) => {
        this.controller = undefined;
        // an ERROR event decided already (the abort that followed is no error of its own)
        if (result !== 'ended') finish(result);
        else if (err) finish(isGone(err) ? 'gone' : err);
        else finish(result);
      };
      this.client.watch(this.options.path, {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        // the server ends a watch after this (a fresh request then resumes from the last version)
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        labelSelector: this.options.labelSelector,
      }, onEvent, onDone).then((c) => {
        if (finished) return;
        this.controller = c;
        if (this.stopped) c.abort();
        else connected();
      }, (err) => finish(err));
    });
  }
}
