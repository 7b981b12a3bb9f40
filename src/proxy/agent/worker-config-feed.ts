/**
 * How the N workers of `clew proxy --concurrency N` share one ADS stream (Envoy's main thread
 * and workers): worker 0 runs the xDS client; every update it accepts is sent, as applied, to
 * the agent, which forwards it to workers 1..N-1 of the same generation and replays the latest
 * update of each type to a worker that starts listening later. Those workers apply it with the
 * same code; they never talk to the control plane, so it sees one proxy (one node id, one
 * stream), and ACK/NACK is worker 0's verdict: the parse and validation that decide it run
 * before anything changes and are deterministic, so a follower cannot judge the same bytes
 * differently (if one ever does, it keeps its last good config and reports it; the agent logs it).
 */
import type { EnvoyResource } from '../../xds/codec.js';
import type { XdsApplier } from '../xds-client/xds-client.js';
import type { ProxyConfigSource } from '../proxy.js';
import { isAgentMessage, type ChildMessage, type ConfigUpdate } from './agent-messages.js';

export type SendToAgent = (m: ChildMessage) => void;

/** Worker 0: applies, then forwards what was accepted (a rejected update stays with the NACK). */
export function forwardingApplier(inner: XdsApplier, send: SendToAgent): XdsApplier {
  return {
    apply(typeUrl: string, resources: Map<string, EnvoyResource>, version: string): void {
      // serialized before applying: the applier may annotate the objects it is given
      const json = JSON.stringify([...resources]);
      inner.apply(typeUrl, resources, version);
      send({ clew: 'config', typeUrl, version, resources: json });
    },
  };
}

/** Workers 1..N-1: configuration from worker 0 instead of an ADS stream. */
export class FollowerConfigSource implements ProxyConfigSource {
  connected = false;
  private readonly onMessage = (m: unknown): void => {
    if (isAgentMessage(m) && m.clew === 'config') this.apply(m);
  };

  constructor(
    private readonly applier: XdsApplier,
    private readonly send: SendToAgent,
    private readonly log: (msg: string) => void,
  ) {}

  start(): void {
    process.on('message', this.onMessage);
    this.send({ clew: 'hello' });
  }

  close(): void {
    process.off('message', this.onMessage);
    this.connected = false;
  }

  /** the resource names worker 0 subscribes to follow from the same config: nothing to do */
  setNames(): void {}

  apply(u: ConfigUpdate): void {
    try {
      const resources = new Map<string, EnvoyResource>(JSON.parse(u.resources) as Array<[string, EnvoyResource]>);
      this.applier.apply(u.typeUrl, resources, u.version);
      this.connected = true;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.log(`worker could not apply ${u.typeUrl} version ${u.version} that worker 0 accepted: ${error}`);
      this.send({ clew: 'apply-failed', typeUrl: u.typeUrl, version: u.version, error });
    }
  }
}
