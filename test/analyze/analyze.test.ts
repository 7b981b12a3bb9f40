/**
 * `clew analyze`: each message code with a file that triggers it and one that does not; the
 * samples analyze without errors; the CLI's exit codes and formats.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigPaths } from '../../src/config/index.js';
import { analyze } from '../../src/analyze/analyze.js';
import type { AnalysisMessage } from '../../src/analyze/analyze-message.js';
import { PACKAGE_ROOT } from '../../src/local/local-clew-bin.js';

const dir = mkdtempSync(join(tmpdir(), 'clew-analyze-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

async function run(yaml: string): Promise<AnalysisMessage[]> {
  const file = join(dir, `case-${n++}.yaml`);
  writeFileSync(file, yaml);
  const loaded = await loadConfigPaths([file], { defaultNamespace: 'default' });
  return analyze({ files: loaded.resources, loadMessages: loaded.messages });
}

const SERVICES = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: default}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
`;

const GATEWAY = (name: string, host: string, port = 80, selector = 'ingressgateway') => `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: default}
spec:
  selector: {istio: ${selector}}
  servers:
  - port: {number: ${port}, name: http, protocol: HTTP}
    hosts: ["${host}"]
`;

const VS = (host: string, dest: string, gateways?: string) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs-${host.replace(/[^a-z]/g, '')}, namespace: default}
spec:
  hosts: ["${host}"]
${gateways ? `  gateways: [${gateways}]\n` : ''}  http:
  - route:
    - destination: {host: ${dest}}
`;

function codes(ms: AnalysisMessage[]): string[] {
  return ms.map((m) => m.code);
}

const CASES: Array<{ code: string; name: string; bad: string; good: string }> = [
  { code: 'IST0101', name: 'ReferencedResourceNotFound', bad: SERVICES + '---' + VS('reviews', 'nosuch'), good: SERVICES + '---' + VS('reviews', 'reviews') },
  { code: 'IST0106', name: 'SchemaValidationError', bad: SERVICES + '---' + VS('reviews', 'reviews').replace('- destination: {host: reviews}', '- destination: {host: reviews}\n      weight: -1'), good: SERVICES + '---' + VS('reviews', 'reviews') },
  { code: 'IST0108', name: 'UnknownAnnotation', bad: SERVICES.replace('metadata: {name: reviews, namespace: default}', 'metadata: {name: reviews, namespace: default, annotations: {sidecar.istio.io/nosuch: "x"}}'), good: SERVICES.replace('metadata: {name: reviews, namespace: default}', 'metadata: {name: reviews, namespace: default, annotations: {networking.istio.io/exportTo: "."}}') },
  { code: 'IST0109', name: 'ConflictingMeshGatewayVirtualServiceHosts', bad: SERVICES + '---' + VS('reviews', 'reviews') + '---' + VS('reviews', 'reviews').replace('vs-reviews', 'vs-other'), good: SERVICES + '---' + VS('reviews', 'reviews') + '---' + VS('ratings', 'ratings') },
  { code: 'IST0118', name: 'PortNameIsNotUnderNamingConvention', bad: SERVICES.replace('ports: [{name: http, port: 9080}]', 'ports: [{name: foo, port: 9080}]'), good: SERVICES },
  { code: 'IST0132', name: 'VirtualServiceHostNotFoundInGateway', bad: SERVICES + '---' + GATEWAY('gw', 'bookinfo.example.com') + '---' + VS('shop.example.com', 'reviews', 'gw'), good: SERVICES + '---' + GATEWAY('gw', 'bookinfo.example.com') + '---' + VS('bookinfo.example.com', 'reviews', 'gw') },
  { code: 'IST0145', name: 'ConflictingGateways', bad: GATEWAY('gw-a', '*.example.com') + '---' + GATEWAY('gw-b', 'shop.example.com'), good: GATEWAY('gw-a', '*.example.com') + '---' + GATEWAY('gw-b', 'shop.example.com', 8080) },
];

for (const c of CASES) {
  test(`${c.code} ${c.name}: triggered, and not by the fixed file`, async () => {
    const bad = await run(c.bad);
    const hit = bad.find((m) => m.code === c.code);
    assert.ok(hit, `${c.code} expected, got: ${JSON.stringify(bad)}`);
    assert.equal(hit.name, c.name);
    assert.match(hit.file ?? '', /case-\d+\.yaml$/, 'the message names the file');
    const good = await run(c.good);
    assert.deepEqual(codes(good).filter((x) => x === c.code), [], JSON.stringify(good));
  });
}

function clew(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [join(PACKAGE_ROOT, 'bin', 'clew.js'), ...args], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('the samples analyze without errors (exit 0)', () => {
  for (const d of ['samples/bookinfo', 'samples/httpbin']) {
    const r = clew(['analyze', '-A', '-f', d]);
    assert.equal(r.code, 0, `${d}: ${r.out}`);
    assert.doesNotMatch(r.out, /^Error /m, r.out);
  }
});

test('CLI: istioctl\'s text form, exit 79 at the failure threshold, json output, namespace filter', () => {
  const file = join(dir, 'cli.yaml');
  writeFileSync(file, GATEWAY('gw-a', '*') + '---' + GATEWAY('gw-b', 'x.example.com') + '---' + SERVICES.replace('name: http, port: 9080}]', 'name: foo, port: 9080}]'));
  const r = clew(['analyze', '-f', file]);
  assert.equal(r.code, 79, r.out);
  assert.match(r.out, /^Error \[IST0145\] \(Gateway default\/gw-a .*cli\.yaml:\d+\) Conflict with gateways default\/gw-b/m);
  assert.match(r.out, /^Warning \[IST0118\] \(Service default\/reviews /m);
  const json = clew(['analyze', '-f', file, '-o', 'json']);
  const parsed = JSON.parse(json.out.slice(0, json.out.lastIndexOf(']') + 1)) as AnalysisMessage[];
  assert.ok(parsed.some((m) => m.code === 'IST0145' && m.level === 'Error'));
  // only warnings left: exit 0 at the default threshold, 79 at Warning
  const warnOnly = join(dir, 'warn.yaml');
  writeFileSync(warnOnly, SERVICES.replace('name: http, port: 9080}]', 'name: foo, port: 9080}]'));
  assert.equal(clew(['analyze', '-f', warnOnly]).code, 0);
  assert.equal(clew(['analyze', '-f', warnOnly, '--failure-threshold', 'Warning']).code, 79);
  assert.match(clew(['analyze', '-f', warnOnly, '-n', 'other']).out, /No validation issues found when analyzing namespace: other/);
  assert.equal(clew(['analyze']).code, 2, 'no input is a usage error');
});
