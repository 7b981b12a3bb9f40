/** How to start another `clew` process: this node binary + the package's bin/clew.js. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { PROXY_NODE_FLAGS } from '../cli/proxy-heap.js';

/** The package root (this file is dist/src/local/local-clew-bin.js once compiled). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * `[node, bin/clew.js, ...args]` (a sidecar gets PROXY_NODE_FLAGS before the script). $CLEW_LOCAL_CLEW_BIN names another script to run instead
 * (tests use a fake `clew proxy`; developers can point it at a wrapper).
 */
export function clewCommand(args: string[], env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const bin = env.CLEW_LOCAL_CLEW_BIN || join(PACKAGE_ROOT, 'bin', 'clew.js');
  const flags = args[0] === 'proxy' ? PROXY_NODE_FLAGS : [];
  return { command: process.execPath, args: [...flags, bin, ...args] };
}
