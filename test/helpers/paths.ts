/** Paths tests need, resolved from the compiled location (dist/test/helpers). */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '../../..');
export const CLEW_BIN = path.join(REPO_ROOT, 'bin', 'clew.js');
