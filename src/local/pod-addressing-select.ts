/** The pod addressing in force: `--pod-addressing`, $CLEW_POD_ADDRESSING, or what this machine can do (pod-addressing.ts). */
import { choosePodAddressingMode, probeLoopbackIp, type PodAddressing, type PodAddressingMode } from './pod-addressing.js';
import { loopbackIpAddressing } from './pod-addressing-loopback.js';
import { portAddressing } from './pod-addressing-port.js';

export function podAddressingOf(mode: PodAddressingMode, reason: string = mode): PodAddressing {
  return mode === 'port' ? portAddressing(reason) : loopbackIpAddressing(reason);
}

export async function selectPodAddressing(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, probe = probeLoopbackIp): Promise<PodAddressing> {
  const { mode, reason } = await choosePodAddressingMode(flag, env, probe);
  return podAddressingOf(mode, reason);
}
