/**
 * The end of an I/O turn: work that must wait until the callback that delivered a read has done
 * its synchronous part (report a finished response, flush what a response batched), run once that
 * callback returns, before control goes back to libuv. Envoy runs such work as deferred deletion
 * after the current dispatcher event. Doing it here instead of with process.nextTick keeps the
 * tick queue empty on the request path: every tick-queue drain costs node a
 * processTicksAndRejections pass (and, in Node 20, a new Map in processPromiseRejections).
 *
 * Reads delivered by socket-direct.ts are turns. Work deferred outside a turn (a timer, an
 * HTTP/2 stream event, a body stream) falls back to process.nextTick, which runs at the same
 * point for those callers. A turn also reads the clock once, for the codecs' idle timers.
 */

type Job = (arg: never) => void;

let depth = 0;
/**
 * Deferred work of the current turn: slots [0, pending) of two arrays that keep their backing
 * stores between turns (emptying them with `length = 0` would drop the stores, and each turn's
 * first push would allocate new ones: ~300 bytes per request).
 */
const jobs: Job[] = [];
const args: unknown[] = [];
let pending = 0;
/** slots kept between turns (a turn defers one job per response it finished) */
const KEEP_SLOTS = 256;
/** Date.now() when the outermost turn began: one clock read per read event for activity stamps */
let turnStart = 0;

export function enterTurn(): void {
  if (depth++ === 0) turnStart = Date.now();
}

/** The time of the current turn (ms since the epoch), or now outside one: for idle bookkeeping. */
export function turnTime(): number {
  return depth > 0 ? turnStart : Date.now();
}

/** Leaves a turn; the outermost one runs what was deferred during it (and what that defers). */
export function leaveTurn(): void {
  if (depth > 1) {
    depth--;
    return;
  }
  // still "inside" while the jobs run, so what they defer joins this drain
  for (let i = 0; i < pending; i++) {
    const fn = jobs[i];
    const arg = args[i];
    jobs[i] = noop;
    args[i] = undefined;
    try {
      fn(arg as never);
    } catch (err) {
      // one job's failure must not skip the others; surface it as an uncaught error would be
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  // a turn that deferred unusually much does not keep its stores
  if (pending > KEEP_SLOTS) jobs.length = args.length = 0;
  pending = 0;
  depth = 0;
}

/** Runs `fn(arg)` at the end of the current turn, or on the next tick when there is none. */
export function deferToTurnEnd<T>(fn: (arg: T) => void, arg: T): void {
  if (depth === 0) {
    process.nextTick(fn, arg);
    return;
  }
  if (pending === jobs.length) {
    jobs.push(fn as Job);
    args.push(arg);
  } else {
    jobs[pending] = fn as Job;
    args[pending] = arg;
  }
  pending++;
}

export function inTurn(): boolean {
  return depth > 0;
}

function noop(): void {}
