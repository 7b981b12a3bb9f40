/**
 * What `clew proxy`'s agent (--hot-restart, --concurrency N) and its proxy workers say to each
 * other over the node:cluster IPC channel. A generation (restart epoch) has N workers; worker 0
 * is its config leader: it runs the one ADS stream and its accepted updates go to workers 1..N-1
 * through the agent. Workers 1..N-1 send their stats to worker 0 the same way.
 */
import type { DrainMode } from '../drain/drain-sequence.js';
import type { SeriesSnapshot } from './worker-stats.js';

/** One accepted xDS update (state of the world of one type), as the leader applied it. */
export interface ConfigUpdate {
  clew: 'config';
  typeUrl: string;
  version: string;
  /** JSON of the decoded resources, [name, resource][], taken before the leader applied them */
  resources: string;
}

/** A follower's stats, pushed periodically; the agent adds the sender's index for the leader. */
export interface StatsPush {
  clew: 'stats';
  worker?: number;
  series: SeriesSnapshot[];
}

/** agent -> worker */
export type AgentMessage =
  | { clew: 'drain'; mode: DrainMode }
  | { clew: 'quit' }
  /** to worker 0: every worker of its generation is ready */
  | { clew: 'all-ready' }
  | ConfigUpdate
  | StatsPush;

/** worker -> agent */
export type ChildMessage =
  /** initial configuration applied, listeners bound */
  | { clew: 'ready' }
  /** a follower listens for config now: the agent replays its generation's latest updates */
  | { clew: 'hello' }
  /** a follower failed to apply an update its leader accepted (should not happen: same code, same input) */
  | { clew: 'apply-failed'; typeUrl: string; version: string; error: string }
  | ConfigUpdate
  | StatsPush;

/** the child's hot restart generation (0, 1, ...) */
export const RESTART_EPOCH_ENV = 'CLEW_RESTART_EPOCH';
/** the worker's index in its generation (0 = config leader, owner of the admin ports) */
export const WORKER_INDEX_ENV = 'CLEW_WORKER_INDEX';
/** the generation's worker count */
export const CONCURRENCY_ENV = 'CLEW_CONCURRENCY';

const AGENT_KINDS = new Set(['drain', 'quit', 'all-ready', 'config', 'stats']);
const CHILD_KINDS = new Set(['ready', 'hello', 'apply-failed', 'config', 'stats']);

function kind(m: unknown): unknown {
  return (m as { clew?: unknown } | null)?.clew;
}

export function isAgentMessage(m: unknown): m is AgentMessage {
  return AGENT_KINDS.has(kind(m) as string);
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return CHILD_KINDS.has(kind(m) as string);
}
