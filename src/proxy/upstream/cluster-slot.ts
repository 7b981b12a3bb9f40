/**
 * A stable handle on a cluster by name. Routes hold slots (resolved once per route config); the
 * cluster manager swaps `cluster` in place on CDS updates, so requests never look names up.
 */
import type { Cluster } from './cluster.js';

export interface ClusterSlot {
  readonly name: string;
  cluster: Cluster | undefined;
}

export type ClusterResolver = (name: string) => ClusterSlot;
