/**
 * From the proxy's flags to its workload certificate agent: the CA address (default: the xDS
 * address with --xds-tls, else the xDS host at 15012), token and root files, lifetime, key type, and the SPIFFE ID put in the CSR. A
 * proxy without a root certificate has no agent (a TLS context asking for `default` then waits).
 */
import * as fs from 'node:fs';
import type { ProxyOptions } from '../core/bootstrap.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import { CaClient } from './ca-client.js';
import { WorkloadCertificateAgent, type WorkloadCertificate } from './workload-certificate.js';

/** Istio's SECRET_TTL: the agent asks for 24 hours */
export const DEFAULT_WORKLOAD_CERT_TTL_S = 24 * 3600;
export const CA_PORT = 15012;

/**
 * Where CreateCertificate goes without --ca-address: the xDS address itself when ADS is over TLS
 * (that is the control plane's TLS port, which serves both, as Istio's CA_ADDR defaults to the
 * discovery address), otherwise the xDS host at 15012.
 */
export function defaultCaAddress(xdsAddress: string, xdsTls = false): string {
  if (xdsTls) return xdsAddress.replace(/^dns:\/*/, '');
  const a = xdsAddress.replace(/^dns:\/*/, '');
  const i = a.lastIndexOf(':');
  const host = i > 0 ? a.slice(0, i) : a;
  return `${host}:${CA_PORT}`;
}

export function workloadAgentStarter(
  o: ProxyOptions,
  identity: ProxyIdentity,
  log: (level: 'info' | 'warn', msg: string) => void,
): ((onCertificate: (c: WorkloadCertificate) => void) => { stop(): void; current(): WorkloadCertificate | undefined }) | undefined {
  if (!o.rootCertFile) return undefined;
  return (onCertificate) => {
    const agent = new WorkloadCertificateAgent({
      ca: new CaClient({ address: o.caAddress ?? defaultCaAddress(o.xdsAddress, o.xdsTls === true), rootCertFile: o.rootCertFile, tokenFile: o.tokenFile }),
      spiffeId: `spiffe://${o.trustDomain ?? 'cluster.local'}/ns/${identity.namespace}/sa/${identity.serviceAccount}`,
      algorithm: o.keyAlgorithm ?? 'rsa',
      ttlSeconds: o.workloadCertTtlS ?? DEFAULT_WORKLOAD_CERT_TTL_S,
      extraRoots: () => {
        try {
          return fs.readFileSync(o.rootCertFile!, 'utf8');
        } catch {
          return undefined;
        }
      },
      onCertificate,
      log,
    });
    agent.start();
    return { stop: () => agent.stop(), current: () => agent.current };
  };
}
