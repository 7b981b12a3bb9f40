/** `clew validate` through the real entry point (bin/clew.js runs the compiled CLI). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { REPO_ROOT } from './fixtures.js';

function clew(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/clew.js', 'validate', ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const F = 'test/fixtures/config';

test('valid directory: exit 0, ignored kinds listed, summary line', () => {
  const r = clew('-f', `${F}/valid`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    `${F}/valid/nested/deployment.yaml:2: ignored apps/v1 Deployment reviews-v1 (not an Istio configuration kind)\n` +
      'validated 4 resources in 4 files: no errors\n',
  );
});

test('warnings only: exit 0 and the warning is printed', () => {
  const r = clew('--filename', `${F}/warnings/dr.yaml`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    `${F}/warnings/dr.yaml:9: warning: DestinationRule default/httpbin: spec.trafficPolicy.outlierDetection.consecutiveErrors: consecutiveErrors is deprecated; use consecutive5xxErrors (or consecutiveGatewayErrors)\n` +
      'validated 1 resource in 1 file: no errors, 1 warning\n',
  );
});

test('errors: exit 1 with every message, repeated -f', () => {
  const r = clew('-f', `${F}/invalid/vs.yaml`, '-f', `${F}/warnings`);
  assert.equal(r.code, 1);
  assert.equal(
    r.stdout,
    `${F}/invalid/vs.yaml:14: VirtualService default/reviews: spec.http[0].route[1].weight: must be >= 0\n` +
      `${F}/warnings/dr.yaml:9: warning: DestinationRule default/httpbin: spec.trafficPolicy.outlierDetection.consecutiveErrors: consecutiveErrors is deprecated; use consecutive5xxErrors (or consecutiveGatewayErrors)\n` +
      'validated 3 resources in 2 files: 1 error, 1 warning\n',
  );
  assert.equal(r.stderr, 'clew: validation failed with 1 error\n');
});

test('-o json reports messages, ignored kinds and counts', () => {
  const r = clew('-f', `${F}/invalid`, '-f', `${F}/valid/nested/deployment.yaml`, '-o', 'json');
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout);
  assert.equal(report.errors, 1);
  assert.equal(report.warnings, 0);
  assert.deepEqual(report.files, [`${F}/invalid/vs.yaml`, `${F}/valid/nested/deployment.yaml`]);
  assert.deepEqual(report.resources, ['VirtualService/default/reviews', 'DestinationRule/default/reviews']);
  assert.equal(report.messages.length, 1);
  assert.equal(report.messages[0].text, `${F}/invalid/vs.yaml:14: VirtualService default/reviews: spec.http[0].route[1].weight: must be >= 0`);
  assert.equal(report.messages[0].field, 'spec.http[0].route[1].weight');
  assert.equal(report.messages[0].code, 'CLEW_SCHEMA_RANGE');
  assert.deepEqual(report.ignored.map((i: { kind: string }) => i.kind), ['Deployment']);
});

test('usage errors exit 2', () => {
  const none = clew();
  assert.equal(none.code, 2);
  assert.match(none.stderr, /at least one -f\/--filename is required/);
  const missing = clew('-f', `${F}/nope.yaml`);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml: no such file or directory/);
  const format = clew('-f', `${F}/valid`, '-o', 'xml');
  assert.equal(format.code, 2);
});

test('--mesh-config: the mesh config is validated too and Telemetry providers are checked against it', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'clew-validate-mesh-'));
  try {
    const mesh = join(dir, 'mesh.yaml');
    const tel = join(dir, 'telemetry.yaml');
    writeFileSync(mesh, 'accessLogEncoding: XML\nextensionProviders:\n- name: zipkin\n  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}\n');
    writeFileSync(tel, 'apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: istio-system}\nspec:\n  tracing:\n  - providers: [{name: jaeger}]\n');
    const r = clew('-f', tel, '--mesh-config', mesh);
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `${mesh}:1: accessLogEncoding: must be one of TEXT, JSON; got "XML"\n` +
        `${tel}:6: warning: Telemetry istio-system/t: spec.tracing[0].providers[0].name: provider "jaeger" is not defined in the mesh config's extensionProviders (prometheus, stackdriver, envoy); it is ignored\n` +
        'validated 1 resource in 2 files: 1 error, 1 warning\n',
    );
    writeFileSync(mesh, 'extensionProviders:\n- name: jaeger\n  zipkin: {service: jaeger.istio-system.svc.cluster.local, port: 9411}\n');
    const ok = clew('-f', tel, '--mesh-config', mesh);
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(ok.stdout, 'validated 1 resource in 2 files: no errors\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--mesh-config: ext_authz providers are checked (port, statusOnError, pathPrefix, body limit) and CUSTOM must name one', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'clew-validate-extauthz-'));
  try {
    const mesh = join(dir, 'mesh.yaml');
    const ap = join(dir, 'ap.yaml');
    const policy = (name: string, provider: string) => `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ${name}, namespace: foo}\nspec:\n  action: CUSTOM\n  provider: {name: ${provider}}\n  rules: [{}]\n`;
    writeFileSync(mesh, 'extensionProviders:\n'
      + '- name: bad\n  envoyExtAuthzHttp: {service: ext-authz.foo.svc.cluster.local, port: "x", statusOnError: "teapot", pathPrefix: check, includeRequestBodyInCheck: {maxRequestBytes: 0}}\n');
    writeFileSync(ap, policy('a', 'bad'));
    const bad = clew('-f', ap, '--mesh-config', mesh);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stdout.split('\n').filter((l) => l.startsWith(mesh)).join('\n'),
      `${mesh}:3: extensionProviders[0].envoyExtAuthzHttp.port: must be a port number 1-65535, got "x"\n`
        + `${mesh}:3: extensionProviders[0].envoyExtAuthzHttp.statusOnError: "teapot" is not an HTTP status code\n`
        + `${mesh}:3: extensionProviders[0].envoyExtAuthzHttp.pathPrefix: must begin with / and have no spaces ("check")\n`
        + `${mesh}:3: extensionProviders[0].envoyExtAuthzHttp.includeRequestBodyInCheck.maxRequestBytes: must be greater than 0`,
    );
    writeFileSync(mesh, 'extensionProviders:\n'
      + '- name: ok-grpc\n  envoyExtAuthzGrpc: {service: foo/ext-authz, port: "9000", statusOnError: "503"}\n'
      + '- name: zipkin\n  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}\n');
    writeFileSync(ap, `${policy('a', 'ok-grpc')}---\n${policy('b', 'nope')}---\n${policy('c', 'zipkin')}`);
    const r = clew('-f', ap, '--mesh-config', mesh);
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `${ap}:14: AuthorizationPolicy foo/b: spec.provider.name: provider "nope" is not defined in the mesh config's extensionProviders (ext_authz providers: ok-grpc); the workload would deny every request\n`
        + `${ap}:22: AuthorizationPolicy foo/c: spec.provider.name: provider "zipkin" is not an ext_authz provider (envoyExtAuthzHttp or envoyExtAuthzGrpc); the workload would deny every request\n`
        + 'validated 3 resources in 2 files: 2 errors, 0 warnings\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
