/**
 * Every error rule of the per-resource semantics (each `rep.error(...)` call in
 * src/config/semantic-*.ts) is exercised by some document of the invalid corpus
 * (test/config/corpus/invalid/), which corpus.test.ts checks message by message. A new rule
 * without a corpus document fails here, naming the rule's source line.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parseConfigText } from '../../src/config/index.js';
import { Reporter } from '../../src/config/validate-reporter.js';
import { REPO_ROOT } from './fixtures.js';

/**
 * Size-limit rules need documents too large to keep as files: generated here, with the one error
 * each must give.
 */
const GENERATED = [
  {
    text: `apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: too-many-rules}\nspec:\n  jwtRules:\n${
      '  - {issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/keys"}\n'.repeat(4097)}`,
    want: ['spec.jwtRules: at most 4096 rules'],
  },
];

/** Semantic files with per-resource rules (mesh config has its own loader and tests). */
const RULE_FILE = /^semantic-(?!mesh-config|util)[a-z-]+\.(js|ts)$/;

test('the invalid corpus exercises every semantic error rule', () => {
  const hits = new Set<string>();
  let configDir = '';
  const original = Reporter.prototype.error;
  Reporter.prototype.error = function patched(this: Reporter, ...args: Parameters<Reporter['error']>) {
    // frame 0 is this function, frame 1 the rule that reported
    const frame = new Error().stack?.split('\n')[2] ?? '';
    const m = /\((.*):(\d+):\d+\)$/.exec(frame) ?? /at (.*):(\d+):\d+$/.exec(frame);
    if (m) {
      const file = m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
      if (RULE_FILE.test(basename(file))) {
        configDir = dirname(file);
        hits.add(`${basename(file)}:${m[2]}`);
      }
    }
    return original.apply(this, args);
  };
  try {
    const dir = join(REPO_ROOT, 'test/config/corpus/invalid');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.yaml'))) parseConfigText(readFileSync(join(dir, f), 'utf8'), f);
    for (const g of GENERATED) {
      const errors = parseConfigText(g.text, 'generated.yaml').messages.filter((m) => m.severity === 'error');
      assert.deepEqual(errors.map((m) => `${m.field}: ${m.message}`), g.want);
    }
  } finally {
    Reporter.prototype.error = original;
  }
  assert.notEqual(configDir, '', 'no rule reported at all');
  const missing: string[] = [];
  for (const f of readdirSync(configDir).filter((x) => RULE_FILE.test(x))) {
    readFileSync(join(configDir, f), 'utf8').split('\n').forEach((line, i) => {
      if (/\brep\.error\(/.test(line) && !hits.has(`${f}:${i + 1}`)) missing.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(missing, []);
});
