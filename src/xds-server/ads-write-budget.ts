/**
 * A cap on the response bytes handed to gRPC and not yet written to their connections, across
 * every stream of a server. Each stream copies the shared encoded set into its own response
 * (its nonce in the header) and gRPC frames that into another copy, held until the client has
 * read it: with a hundred proxies connecting at once, the copies of a full push are hundreds of
 * megabytes at the same time, and the process keeps that peak as resident memory afterwards.
 * With the budget, a response is built only when the bytes in flight leave room for it, so the
 * peak is about the budget; pushes that fit (an `apply` usually changes one type) never wait.
 *
 * A stream whose client does not read does not stall the others for long: a response waits at
 * most `maxWaitMs`, then goes anyway (and counts in the bytes in flight until written).
 */

export const DEFAULT_WRITE_BUDGET_BYTES = 64 * 1024 * 1024;
export const DEFAULT_WRITE_BUDGET_MAX_WAIT_MS = 2000;

interface Waiter {
  bytes: number;
  admit(): void;
}

/** Gives back the bytes of an admitted response (idempotent). */
export type ReleaseBudget = () => void;

export class WriteBudget {
  private inFlight = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly capBytes = DEFAULT_WRITE_BUDGET_BYTES,
    readonly maxWaitMs = DEFAULT_WRITE_BUDGET_MAX_WAIT_MS,
  ) {}

  get bytesInFlight(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves once `bytes` may be sent (first come, first served). */
  acquire(bytes: number): Promise<ReleaseBudget> {
    return new Promise<ReleaseBudget>((resolve) => {
      let admitted = false;
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        bytes,
        admit: () => {
          if (admitted) return;
          admitted = true;
          clearTimeout(timer);
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          this.inFlight += bytes;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.inFlight -= bytes;
            this.admitWaiting();
          });
        },
      };
      if (this.queue.length === 0 && this.fits(bytes)) {
        waiter.admit();
        return;
      }
      this.queue.push(waiter);
      timer = setTimeout(waiter.admit, this.maxWaitMs);
    });
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.capBytes;
  }

  private admitWaiting(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0].bytes)) this.queue[0].admit();
  }
}
