/** Paths of test/fixtures/config from the compiled test (dist/test/config). */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/config/', import.meta.url));
