/**
 * Istio's message templates (istio/istio pkg/config/analysis/msg/messages.yaml) for the Istio
 * codes the config validator reports in its own words: what users grep istioctl's output for.
 * The validator's sentence is matched by its (stable, tested) form; one that does not match keeps
 * the validator's words.
 */
import type { ConfigResource, KubeServiceSpec, ValidationMessage } from '../config/index.js';

export type ResourceLookup = (kind: string, namespace: string, name: string) => ConfigResource | undefined;

export function istioWording(m: ValidationMessage, lookup?: ResourceLookup): string | undefined {
  const t = m.message;
  let x: RegExpExecArray | null;
  switch (m.code) {
    case 'IST0101':
      if ((x = /^referenced gateway "(.+)" not found$/.exec(t))) return `Referenced gateway not found: ${JSON.stringify(x[1])}`;
      if ((x = /^referenced subset "(.+)" not found in any DestinationRule for host "(.+)"$/.exec(t))) {
        const what = /(^|\.)mirrors?\b/.test(m.field) ? 'mirror+subset' : 'host+subset';
        return `Referenced ${what} in destinationrule not found: ${JSON.stringify(`${x[2]}+${x[1]}`)}`;
      }
      if ((x = /^referenced host "(.+)" not found$/.exec(t))) return `Referenced ${/(^|\.)mirrors?\b/.test(m.field) ? 'mirror host' : 'host'} not found: ${JSON.stringify(x[1])}`;
      return undefined;
    case 'IST0109':
      if ((x = /^host "(.+)" is also defined by VirtualService (.+?)(?: and \d+ more)?; merge them into one VirtualService$/.exec(t))) {
        const names = [`${m.namespace}/${m.name}`, ...x[2].split(', ')].sort().join(',');
        return `The VirtualServices ${names} associated with mesh gateway define the same host */${x[1]} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`;
      }
      return undefined;
    case 'IST0118':
      if ((x = /^(?:port name "(.*)"|unnamed port) does not follow .* port (\d+) is treated as TCP$/.exec(t))) {
        const port = Number(x[2]);
        const svc = lookup?.('Service', m.namespace, m.name)?.spec as KubeServiceSpec | undefined;
        const target = svc?.ports?.find((p) => p.port === port)?.targetPort ?? port;
        return `Port name ${x[1] ?? ''} (port: ${port}, targetPort: ${target}) doesn't follow the naming convention of Istio port.`;
      }
      return undefined;
    case 'IST0160':
      if ((x = /^namespace "(.+)" has other Telemetry resources without a workload selector \((.+)\); only one of them applies$/.exec(t))) {
        const names = [m.name, ...x[2].split(', ').map((n) => n.slice(n.indexOf('/') + 1))].sort();
        return `The Telemetries [${names.join(' ')}] in namespace ${JSON.stringify(x[1])} have no workload selector, which can lead to undefined behavior.`;
      }
      return undefined;
    case 'IST0174':
      if ((x = /^host "(.+)" does not match any known service$/.exec(t))) return `The host ${x[1]} defined in the DestinationRule does not match any services in the mesh.`;
      return undefined;
    default:
      return undefined;
  }
}
