/** `clew run`, three workloads, all on 127.0.0.1 with ports of their own (pod addressing port, as on macOS): mesh-clew-run.ts. */
import { clewRunTests } from './mesh-clew-run.js';

clewRunTests('port');
