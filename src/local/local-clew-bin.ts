/** How to start another `clew` process: this node binary + the package's bin/clew.js. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The package root (this file is dist/src/local/local-clew-bin.js once compiled). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * `[node, bin/clew.js, ...args]`. $CLEW_LOCAL_CLEW_BIN names another script to run instead
 * (tests use a fake `clew proxy`; developers can point it at a wrapper).
 */
export function clewCommand(args: string[], env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const bin = env.CLEW_LOCAL_CLEW_BIN || join(PACKAGE_ROOT, 'bin', 'clew.js');
  return { command: process.execPath, args: [bin, ...args] };
}
