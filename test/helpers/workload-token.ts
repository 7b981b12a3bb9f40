/** Workload tokens for test ADS clients: minted in-process for exactly what the node claims. */
import type { ControlPlane } from '../../src/control-plane/control-plane.js';

export interface TestNode {
  id: string;
  metadata?: Record<string, unknown>;
}

/** A token binding the node's namespace, service account, pod name, addresses and labels. */
export async function tokenForNode(cp: ControlPlane, node: TestNode): Promise<string> {
  const md = node.metadata ?? {};
  const ips = typeof md.INSTANCE_IPS === 'string' && md.INSTANCE_IPS ? md.INSTANCE_IPS.split(',') : undefined;
  const { token } = await cp.security.mintToken({
    namespace: String(md.NAMESPACE ?? 'default'),
    serviceAccount: String(md.SERVICE_ACCOUNT ?? 'default'),
    podName: String(md.NAME ?? node.id),
    addresses: ips,
    labels: (md.LABELS as Record<string, string> | undefined) ?? {},
  });
  return token;
}
