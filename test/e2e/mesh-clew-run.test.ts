/** `clew run`, three workloads, each on its own loopback address (pod addressing loopback-ip): mesh-clew-run.ts. */
import { clewRunTests } from './mesh-clew-run.js';

clewRunTests('loopback-ip');
