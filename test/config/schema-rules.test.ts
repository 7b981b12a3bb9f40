/**
 * Every declarative schema rule of every kind, generated from the schema code: for each field, a
 * resource with a value that breaks the rule (wrong type, value outside the enum or range,
 * invalid duration or format, missing required field, mutually exclusive fields together,
 * unknown field next to it) must be rejected with the rule's message on that field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateResource } from '../../src/config/index.js';
import { KINDS } from '../../src/config/kinds.js';
import type { Schema } from '../../src/config/schema-dsl.js';
import { joinKey } from '../../src/config/field-path.js';
import type { ConfigResource } from '../../src/config/types.js';

type Wrap = (v: unknown) => unknown;
interface Case { path: string; spec: unknown; field: string; message: string | RegExp }

/** A value the schema takes, to fill siblings and mutually exclusive partners. */
function sample(s: Schema): unknown {
  switch (s.t) {
    case 'string': return s.enum ? s.enum[s.enum.length - 1] : 'a';
    case 'int': return s.min ?? 1;
    case 'number': return s.min ?? 1;
    case 'bool': return true;
    case 'duration': return '1s';
    case 'intOrString': return 1;
    case 'object': return Object.fromEntries(s.required.map((r) => [r, sample(s.fields[r])]));
    case 'list': return [sample(s.items)];
    case 'map': return { k: sample(s.values) };
    case 'any': return 'a';
  }
}

function casesFor(s: Schema, path: string, wrap: Wrap, out: Case[], seen: Set<Schema>): void {
  const at = (spec: unknown, message: string | RegExp, field = path) => out.push({ path, spec, field, message });
  switch (s.t) {
    case 'string':
      at(wrap(5), 'must be a string, got integer 5');
      if (s.enum) at(wrap('NOT_A_VALUE'), `must be one of ${s.enum.join(', ')}; got "NOT_A_VALUE"`);
      else if (s.check) at(wrap('(\u0000 bad'), /./);
      return;
    case 'int':
    case 'number':
      at(wrap('x'), `must be ${s.t === 'int' ? 'an integer' : 'a number'}, got string "x"`);
      if (s.t === 'int') at(wrap(1.5), 'must be an integer, got number 1.5');
      if (s.min !== undefined) at(wrap(s.min - 1), s.t === 'int' && s.rangeMessage ? s.rangeMessage : /^must be (between|>=)/);
      if (s.max !== undefined) at(wrap(s.max + 1), s.t === 'int' && s.rangeMessage ? s.rangeMessage : /^must be (between|<=)/);
      return;
    case 'bool':
      at(wrap('maybe'), 'must be a boolean, got string "maybe"');
      return;
    case 'duration':
      at(wrap(5), 'must be a duration string such as "1s", got integer 5');
      at(wrap('1x'), 'invalid duration "1x" (expected Go syntax such as 1s, 100ms, 1m30s)');
      if (s.minMs > 0) at(wrap('0s'), `must be >= ${s.minMs}ms`);
      return;
    case 'intOrString':
      at(wrap(true), 'must be an integer or a string, got boolean');
      return;
    case 'list':
      at(wrap('x'), 'must be a list, got string "x"');
      casesFor(s.items, `${path}[0]`, (v) => wrap([v]), out, seen);
      return;
    case 'map':
      at(wrap('x'), 'must be a mapping, got string "x"');
      if (s.keyCheck) at(wrap({ 'BAD KEY!': sample(s.values) }), /./, joinKey(path, 'BAD KEY!'));
      casesFor(s.values, joinKey(path, 'k'), (v) => wrap({ k: v }), out, seen);
      return;
    case 'object': {
      if (seen.has(s)) return; // a shared sub-schema: its rules were generated where it first appeared
      seen.add(s);
      const base = sample(s) as Record<string, unknown>;
      if (path !== 'spec' && path !== '') at(wrap('x'), 'must be a mapping, got string "x"');
      at(wrap({ ...base, notAField: 1 }), 'unknown field', joinKey(path, 'notAField'));
      for (const r of s.required) {
        const { [r]: _, ...rest } = base;
        at(wrap(rest), 'is required', joinKey(path, r));
      }
      for (const group of s.exclusive) {
        const both = { ...base, [group[0]]: sample(s.fields[group[0]]), [group[1]]: sample(s.fields[group[1]]) };
        at(wrap(both), `${group[0]} and ${group[1]} are mutually exclusive`);
      }
      for (const [k, f] of Object.entries(s.fields)) casesFor(f, joinKey(path, k), (v) => wrap({ ...base, [k]: v }), out, seen);
      return;
    }
    case 'any':
      return;
  }
}

for (const def of KINDS) {
  test(`${def.kind}: every schema rule rejects a breaking value with its message`, () => {
    const cases: Case[] = [];
    const root = def.topLevelSpec ? '' : 'spec';
    casesFor(def.schema, root, (v) => v, cases, new Set());
    const failures: string[] = [];
    for (const c of cases) {
      const resource: ConfigResource = {
        apiVersion: 'v', kind: def.kind as ConfigResource['kind'], metadata: { name: 'x', namespace: 'default' }, spec: c.spec,
      };
      const errors = validateResource(resource).filter((m) => m.severity === 'error' && m.field === c.field);
      const ok = errors.some((m) => (typeof c.message === 'string' ? m.message === c.message : c.message.test(m.message)));
      if (!ok) failures.push(`${c.field} <- ${JSON.stringify(c.spec)}: want ${c.message}, got ${JSON.stringify(errors.map((m) => m.message))}`);
    }
    assert.ok(cases.length > 5);
    assert.deepEqual(failures, []);
  });
}
