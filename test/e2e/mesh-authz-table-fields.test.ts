/** AuthorizationPolicy table, part 1: every from.source and to.operation field (mesh-authz-table-fixture.ts). */
import { before, test } from 'node:test';
import { rows, runRows, startTableMesh } from './mesh-authz-table-fixture.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '137';

before(() => startTableMesh(), { timeout: 90_000 });

test('AuthorizationPolicy table, part 1: every source and operation field with its not* twin, on HTTP, gRPC and TCP', { timeout: 120_000 }, () => runRows(rows(1), 0));
