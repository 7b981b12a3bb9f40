/** Kind names and aliases accepted on the command line (kubectl/istioctl habits). */
import { UsageError } from './errors.js';

const ALIASES: Record<string, string> = {
  vs: 'VirtualService', virtualservice: 'VirtualService', virtualservices: 'VirtualService',
  dr: 'DestinationRule', destinationrule: 'DestinationRule', destinationrules: 'DestinationRule',
  gw: 'Gateway', gateway: 'Gateway', gateways: 'Gateway',
  se: 'ServiceEntry', serviceentry: 'ServiceEntry', serviceentries: 'ServiceEntry',
  we: 'WorkloadEntry', workloadentry: 'WorkloadEntry', workloadentries: 'WorkloadEntry',
  sidecar: 'Sidecar', sidecars: 'Sidecar',
  svc: 'Service', service: 'Service', services: 'Service',
  telemetry: 'Telemetry', telemetries: 'Telemetry',
};

export function resolveKind(text: string): string {
  const k = ALIASES[text.toLowerCase().split('.')[0]];
  if (!k) throw new UsageError(`unknown kind ${JSON.stringify(text)}; known: ${[...new Set(Object.values(ALIASES))].join(', ')}`);
  return k;
}

/** `virtualservice.networking.istio.io/reviews`, as kubectl prints it. */
export function qualifiedName(kind: string, name: string): string {
  const group = kind === 'Service' ? '' : kind === 'Telemetry' ? '.telemetry.istio.io' : '.networking.istio.io';
  return `${kind.toLowerCase()}${group}/${name}`;
}
