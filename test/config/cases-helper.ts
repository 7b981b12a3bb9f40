/** Table-driven validation cases: YAML in, exact formatted messages out. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMessage, parseConfigText } from '../../src/config/index.js';

export interface Case {
  name: string;
  yaml: string;
  want: string[];
}

const API: Record<string, string> = {
  Service: 'v1',
  Telemetry: 'telemetry.istio.io/v1',
};

/** A document whose `spec:` is on line 5, so the first spec line is line 6. */
export function doc(kind: string, spec: string, apiVersion = API[kind] ?? 'networking.istio.io/v1'): string {
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: x\nspec:\n${spec}`;
}

export function runCases(cases: Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      const r = parseConfigText(c.yaml, 'test.yaml');
      assert.deepEqual(r.messages.map(formatMessage), c.want);
    });
  }
}
