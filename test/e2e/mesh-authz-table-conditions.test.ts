/**
 * AuthorizationPolicy table, part 2: every when key, the actions DENY and AUDIT, Istio's TCP rule
 * (HTTP-only fields drop an ALLOW rule and widen a DENY rule), dry run; and the fields Clew refuses
 * (mesh-authz-table-fixture.ts).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyConfig } from './mesh-stack.js';
import { cp, rows, runRows, startTableMesh } from './mesh-authz-table-fixture.js';

process.env.CLEW_LOCAL_FIRST_BLOCK = '139';

before(() => startTableMesh(), { timeout: 90_000 });

test('AuthorizationPolicy table, part 2: every when key, DENY, AUDIT, the TCP drop/widen rule and dry run, on HTTP, gRPC and TCP', { timeout: 120_000 }, () => runRows(rows(2), 100));

test('fields Clew does not implement are refused with the policy and field named: experimental.envoy.filters.* keys, trustDomains', async () => {
  const yaml = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mysql-tables, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - when:
    - {key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}
`;
  await assert.rejects(applyConfig(cp, yaml), /mysql-tables[\s\S]*experimental\.envoy\.filters\.network\.mysql_proxy\[db\.table\]/);
  await assert.rejects(applyConfig(cp, `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-trust-domain, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  rules:
  - from:
    - source: {trustDomains: [cluster.local]}
`), /by-trust-domain[\s\S]*trustDomains/);
});
