/**
 * `clew analyze`: every message code analyze emits (ISTIO_CODES) has a fixtures folder,
 * test/analyze/fixtures/<code>/{triggers,clean}.yaml; the first raises the code with Istio's name
 * and level and the wording its `# expect:` line gives, the second does not raise it (and has no
 * errors). The seed's YAML (with the Bookinfo samples it builds on) and the samples analyze
 * clean. The CLI's text form, exit codes and formats.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigPaths, parseConfigText, type ConfigResource } from '../../src/config/index.js';
import { analyze } from '../../src/analyze/analyze.js';
import { ISTIO_CODES, type AnalysisMessage } from '../../src/analyze/analyze-message.js';
import { REPO_ROOT } from '../helpers/paths.js';

const FIXTURES = join(REPO_ROOT, 'test', 'analyze', 'fixtures');
const dir = mkdtempSync(join(tmpdir(), 'clew-analyze-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function analyzeFile(file: string): Promise<AnalysisMessage[]> {
  const loaded = await loadConfigPaths([file], { defaultNamespace: 'default' });
  return analyze({ files: loaded.resources, loadMessages: loaded.messages });
}

const show = (ms: AnalysisMessage[]): string => ms.map((m) => `${m.level} [${m.code}] ${m.kind} ${m.namespace}/${m.resourceName}: ${m.message}`).join('\n');

test('every code analyze emits has a triggering and a clean fixture, and every fixture is a code analyze emits', () => {
  const folders = readdirSync(FIXTURES).sort();
  assert.deepEqual(folders, Object.keys(ISTIO_CODES).sort());
  for (const f of folders) assert.deepEqual(readdirSync(join(FIXTURES, f)).sort(), ['clean.yaml', 'triggers.yaml'], f);
});

for (const code of Object.keys(ISTIO_CODES).sort()) {
  const { name, level } = ISTIO_CODES[code];
  test(`${code} ${name} (${level}): triggers.yaml raises it, clean.yaml does not`, async () => {
    const triggers = join(FIXTURES, code, 'triggers.yaml');
    const expects = [...readFileSync(triggers, 'utf8').matchAll(/^# expect: (.*)$/gm)].map((m) => new RegExp(m[1]));
    assert.ok(expects.length > 0, `${triggers} has an "# expect:" line`);
    const bad = await analyzeFile(triggers);
    const hits = bad.filter((m) => m.code === code);
    assert.ok(hits.length > 0, `${code} expected, got:\n${show(bad)}`);
    for (const hit of hits) {
      assert.equal(hit.name, name);
      assert.equal(hit.level, level, `Istio's level for ${code}`);
      assert.equal(hit.file, triggers, 'the message names the file');
    }
    for (const re of expects) assert.ok(hits.some((h) => re.test(h.message)), `${code} message matching ${re}, got:\n${show(hits)}`);
    const good = await analyzeFile(join(FIXTURES, code, 'clean.yaml'));
    assert.deepEqual(good.filter((m) => m.code === code || m.level === 'Error'), [], show(good));
  });
}

function clew(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'clew.js'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

/** What the samples keep on purpose: the seed's circuit breaker as the seed writes it (consecutiveErrors). */
const KNOWN = [/^Warning \[IST0002\] DestinationRule default\/httpbin: Deprecated: spec\.trafficPolicy\.outlierDetection\.consecutiveErrors/];

test('the samples analyze clean: no message but the seed circuit breaker\'s deprecated field; exit 0', async () => {
  const loaded = await loadConfigPaths([join(REPO_ROOT, 'samples')], { defaultNamespace: 'default' });
  assert.ok(loaded.resources.length > 20, `${loaded.resources.length} resources under samples/`);
  const ms = analyze({ files: loaded.resources, loadMessages: loaded.messages });
  const unexpected = show(ms).split('\n').filter((l) => l && !KNOWN.some((re) => re.test(l)));
  assert.deepEqual(unexpected, []);
  for (const d of ['samples/bookinfo', 'samples/httpbin', 'samples/redis']) {
    const r = clew(['analyze', '-A', '-f', d]);
    assert.equal(r.code, 0, `${d}: ${r.out}`);
    assert.doesNotMatch(r.out, /^Error /m, r.out);
  }
});

test('the seed\'s YAML analyzes clean (with the Bookinfo samples whose services and subsets it routes to)', async () => {
  const seed = process.env.CLEW_SEED_DOC ?? join(REPO_ROOT, '..', 'shared', 'seed', 'service-mesh-istio.md');
  const blocks = [...readFileSync(seed, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => /^kind: /m.test(b));
  assert.ok(blocks.length >= 6, `${blocks.length} object yaml blocks in the seed`);
  const seedResources: ConfigResource[] = [];
  blocks.forEach((b, i) => {
    const r = parseConfigText(b, `seed-block-${i + 1}.yaml`);
    assert.deepEqual(r.messages, [], `block ${i + 1}`);
    seedResources.push(...r.resources);
  });
  const bookinfo = await loadConfigPaths([join(REPO_ROOT, 'samples', 'bookinfo')], { defaultNamespace: 'default' });
  const ms = analyze({ files: [...bookinfo.resources, ...seedResources], loadMessages: bookinfo.messages });
  assert.equal(show(ms), '', 'no message at any level');
});

test('CLI: istioctl\'s text form, exit 79 at the failure threshold, json output, namespace filter', () => {
  const file = join(dir, 'cli.yaml');
  writeFileSync(file, [readFileSync(join(FIXTURES, 'IST0145', 'triggers.yaml'), 'utf8'), readFileSync(join(FIXTURES, 'IST0118', 'triggers.yaml'), 'utf8')].join('\n---\n'));
  const r = clew(['analyze', '-f', file]);
  assert.equal(r.code, 79, r.out);
  assert.match(r.out, /^Error \[IST0145\] \(Gateway default\/gw-a .*cli\.yaml:\d+\) Conflict with gateways default\/gw-b/m);
  assert.match(r.out, /^Info \[IST0118\] \(Service default\/reviews /m);
  const json = clew(['analyze', '-f', file, '-o', 'json']);
  const parsed = JSON.parse(json.out.slice(0, json.out.lastIndexOf(']') + 1)) as AnalysisMessage[];
  assert.ok(parsed.some((m) => m.code === 'IST0145' && m.level === 'Error' && m.name === 'ConflictingGateways'));
  // warnings only: exit 0 at the default threshold (Error), 79 at Warning
  const warnOnly = join(FIXTURES, 'IST0128', 'triggers.yaml');
  assert.equal(clew(['analyze', '-f', warnOnly]).code, 0);
  assert.equal(clew(['analyze', '-f', warnOnly, '--failure-threshold', 'Warning']).code, 79);
  // an Info message fails only at Info
  const infoOnly = join(FIXTURES, 'IST0118', 'triggers.yaml');
  assert.equal(clew(['analyze', '-f', infoOnly, '--failure-threshold', 'Warning']).code, 0);
  assert.equal(clew(['analyze', '-f', infoOnly, '--failure-threshold', 'Info']).code, 79);
  assert.match(clew(['analyze', '-f', warnOnly, '-n', 'other']).out, /No validation issues found when analyzing namespace: other/);
  assert.equal(clew(['analyze']).code, 2, 'no input is a usage error');
});
