/**
 * The configuration corpora (test/config/corpus/):
 * - valid/: configurations written here that together use every field of every kind Clew
 *   supports, each accepted (warnings only for fields that have no effect or deprecated
 *   spellings); the test checks the coverage against the schemas field by field;
 * - invalid/: documents each preceded by `# want: <field>: <message>` lines, exactly the errors
 *   Clew must report for it; every refused field (valid in Istio, not implemented by Clew) is
 *   among them with its reason.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Codes, parseConfigText } from '../../src/config/index.js';
import { fieldCoverage } from '../../src/config/field-coverage.js';
import { kindDefinition } from '../../src/config/kinds.js';
import { isPlainObject, type Schema } from '../../src/config/schema-dsl.js';
import { joinKey } from '../../src/config/field-path.js';
import { REPO_ROOT } from './fixtures.js';

const CORPUS = join(REPO_ROOT, 'test/config/corpus');

function files(dir: string): string[] {
  return readdirSync(join(CORPUS, dir)).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(CORPUS, dir, f));
}

/** Where the coverage table lists a shared sub-schema's fields: the first path it appears at. */
function canonicalPaths(s: Schema, path: string, out: Map<Schema, string>): Map<Schema, string> {
  if (s.t === 'object') {
    if (out.has(s)) return out;
    out.set(s, path);
    for (const [k, f] of Object.entries(s.fields)) canonicalPaths(f, joinKey(path, k), out);
  } else if (s.t === 'list') canonicalPaths(s.items, `${path}[]`, out);
  else if (s.t === 'map') canonicalPaths(s.values, `${path}{}`, out);
  return out;
}

/** The schema paths (`spec.http[].route[].weight`) a value uses, named as the coverage table names them. */
function usedPaths(value: unknown, s: Schema, path: string, canon: Map<Schema, string>, out: Set<string>): void {
  if (value === null || value === undefined) return;
  if (path) out.add(path);
  if (s.t === 'object' && isPlainObject(value)) {
    const base = canon.get(s) ?? path;
    for (const [k, v] of Object.entries(value)) if (s.fields[k]) usedPaths(v, s.fields[k], joinKey(base, k), canon, out);
  } else if (s.t === 'list' && Array.isArray(value)) {
    for (const v of value) usedPaths(v, s.items, `${path}[]`, canon, out);
  } else if (s.t === 'map' && isPlainObject(value)) {
    for (const v of Object.values(value)) usedPaths(v, s.values, `${path}{}`, canon, out);
  }
}

const rows = fieldCoverage();
const used = new Map<string, Set<string>>();

for (const file of files('valid')) {
  test(`valid corpus ${file.slice(CORPUS.length + 1)}: every document is accepted`, () => {
    const r = parseConfigText(readFileSync(file, 'utf8'), file);
    const errors = r.messages.filter((m) => m.severity === 'error').map((m) => `${m.line}: ${m.kind}/${m.name}: ${m.field}: ${m.message}`);
    assert.deepEqual(errors, []);
    for (const m of r.messages) {
      assert.ok(([Codes.noEffect, Codes.deprecated, Codes.portNameConvention] as string[]).includes(m.code), `${m.line}: ${m.field}: ${m.message}`);
      // a deprecated spelling is renamed on load: its warning shows the user wrote it
      if (m.code === Codes.deprecated) (used.get(m.kind) ?? used.set(m.kind, new Set()).get(m.kind)!).add(m.field.replace(/\[\d+\]/g, '[]'));
    }
    assert.ok(r.resources.length > 0);
    for (const res of r.resources) {
      const def = kindDefinition(res.kind)!;
      const set = used.get(res.kind) ?? used.set(res.kind, new Set()).get(res.kind)!;
      // deprecated spellings were renamed on load: count what the user wrote too
      const root = def.topLevelSpec ? '' : 'spec';
      usedPaths(res.spec, def.schema, root, canonicalPaths(def.schema, root, new Map()), set);
    }
  });
}

/** Parsed `# want:` blocks of the invalid corpus: documents with the errors they must give. */
function invalidDocs(): { file: string; text: string; want: string[]; line: number }[] {
  const out: { file: string; text: string; want: string[]; line: number }[] = [];
  for (const file of files('invalid')) {
    const lines = readFileSync(file, 'utf8').split('\n');
    let start = 0;
    for (let i = 0; i <= lines.length; i++) {
      if (i === lines.length || lines[i] === '---') {
        const chunk = lines.slice(start, i);
        const want = chunk.filter((l) => l.startsWith('# want: ')).map((l) => l.slice('# want: '.length));
        if (chunk.some((l) => l.startsWith('kind:'))) {
          // blank lines keep the document's own line numbers in messages
          out.push({ file, text: `${'\n'.repeat(start)}${chunk.join('\n')}\n`, want, line: start + 1 });
        }
        start = i + 1;
      }
    }
  }
  return out;
}

const refusedSeen = new Set<string>();
for (const d of invalidDocs()) {
  test(`invalid corpus ${d.file.slice(CORPUS.length + 1)}:${d.line}: rejected with ${d.want.length} message(s)`, () => {
    assert.ok(d.want.length > 0, 'a document of the invalid corpus needs # want: lines');
    const r = parseConfigText(d.text, d.file);
    const errors = r.messages.filter((m) => m.severity === 'error');
    assert.deepEqual(errors.map((m) => `${m.field}: ${m.message}`).sort(), [...d.want].sort());
    for (const m of errors) if (m.code === Codes.notImplemented) refusedSeen.add(`${m.kind} ${m.field.replace(/\[\d+\]/g, '[]')}`);
  });
}

test('the valid corpus uses every field Clew accepts, of every kind', () => {
  const missing = rows
    .filter((r) => r.status !== 'refused')
    .filter((r) => !used.get(r.kind)?.has(r.path))
    .map((r) => `${r.kind} ${r.path}`);
  assert.deepEqual(missing, []);
});

test('the invalid corpus refuses every field Clew refuses, with its reason', () => {
  // a refused field's own row (its sub-fields go with it)
  const refusedFields = rows.filter((r) => r.status === 'refused' && r.own);
  const missing = refusedFields.filter((r) => !refusedSeen.has(`${r.kind} ${r.path}`)).map((r) => `${r.kind} ${r.path}`);
  assert.deepEqual(missing, []);
});
