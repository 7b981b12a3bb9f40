/** What `clew proxy --hot-restart`'s agent and its proxy children say to each other over IPC. */
import type { DrainMode } from '../drain/drain-sequence.js';

/** agent -> child */
export type AgentMessage = { clew: 'drain'; mode: DrainMode } | { clew: 'quit' };

/** child -> agent: initial configuration applied, listeners bound */
export interface ChildMessage {
  clew: 'ready';
}

/** the child's hot restart generation (0, 1, ...) */
export const RESTART_EPOCH_ENV = 'CLEW_RESTART_EPOCH';

export function isAgentMessage(m: unknown): m is AgentMessage {
  const c = (m as { clew?: unknown } | null)?.clew;
  return c === 'drain' || c === 'quit';
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return (m as { clew?: unknown } | null)?.clew === 'ready';
}
