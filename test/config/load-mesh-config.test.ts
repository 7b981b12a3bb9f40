/** Mesh config (`--mesh-config`): Istio's field names, exact messages with file:line, defaults applied. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  ConfigPathError, defaultMeshConfig, formatMessage, loadMeshConfigFile, parseMeshConfigText,
} from '../../src/config/index.js';

const texts = (text: string) => parseMeshConfigText(text, 'mesh.yaml').messages.map(formatMessage);

test('a valid mesh config applies over Istio\'s defaults (providers merge by name, defaultConfig merges)', () => {
  const r = parseMeshConfigText(`accessLogFile: /dev/stdout
accessLogEncoding: JSON
enableTracing: true
trustDomain: example.org
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  tracing:
    sampling: 25
    maxPathTagLength: 128
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
- name: envoy
  envoyFileAccessLog: {path: /tmp/access.log, logFormat: {text: "%RESPONSE_CODE%\\n"}}
- name: otel
  opentelemetry: {service: otel.observability.svc.cluster.local, port: 4318, http: {path: /v1/traces, timeout: 3s}}
defaultProviders:
  tracing: [zipkin]
`, 'mesh.yaml');
  assert.deepEqual(r.messages, []);
  const m = r.meshConfig;
  assert.equal(m.accessLogFile, '/dev/stdout');
  assert.equal(m.accessLogEncoding, 'JSON');
  assert.equal(m.trustDomain, 'example.org');
  assert.deepEqual(m.extensionProviders!.map((p) => p.name), ['prometheus', 'stackdriver', 'envoy', 'zipkin', 'otel']);
  assert.deepEqual(m.extensionProviders![2], { name: 'envoy', envoyFileAccessLog: { path: '/tmp/access.log', logFormat: { text: '%RESPONSE_CODE%\n' } } });
  // the default zipkin address stays; sampling and the tag length merge in
  assert.deepEqual(m.defaultConfig!.tracing, { zipkin: { address: 'zipkin.istio-system:9411' }, sampling: 25, maxPathTagLength: 128 });
  assert.equal(m.defaultConfig!.discoveryAddress, 'istiod.istio-system.svc:15012');
  // defaultProviders replace per signal: metrics keeps prometheus
  assert.deepEqual(m.defaultProviders, { metrics: ['prometheus'], tracing: ['zipkin'] });
});

test('a tracer in defaultConfig.tracing replaces the default zipkin one; an empty file is the defaults', () => {
  const r = parseMeshConfigText('defaultConfig:\n  tracing:\n    datadog: {address: "$(HOST_IP):8126"}\n', 'mesh.yaml');
  assert.deepEqual(r.messages, []);
  assert.deepEqual(r.meshConfig.defaultConfig!.tracing, { datadog: { address: '$(HOST_IP):8126' } });
  assert.deepEqual(parseMeshConfigText('# nothing\n', 'mesh.yaml'), { meshConfig: defaultMeshConfig(), messages: [] });
});

test('schema errors name the file, line and field', () => {
  assert.deepEqual(texts(`accessLogFile: /dev/stdout
accessLogEncoding: XML
access_log_format: x
enableTracing: "yes"
defaultConfig:
  tracing:
    sampling: 150
    zipkin: {address: zipkin}
    lightstep: {}
  bogus: 1
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 0}
- zipkin: {port: 9411}
`), [
    'mesh.yaml:2: accessLogEncoding: must be one of TEXT, JSON; got "XML"',
    'mesh.yaml:3: access_log_format: unknown field (did you mean "accessLogFormat"?)',
    'mesh.yaml:4: enableTracing: must be a boolean, got string "yes"',
    'mesh.yaml:6: defaultConfig.tracing: zipkin and lightstep are mutually exclusive',
    'mesh.yaml:7: defaultConfig.tracing.sampling: must be between 0 and 100',
    'mesh.yaml:8: defaultConfig.tracing.zipkin.address: invalid address "zipkin" (expected host:port such as zipkin.istio-system:9411)',
    'mesh.yaml:10: defaultConfig.bogus: unknown field',
    'mesh.yaml:13: extensionProviders[0].zipkin.port: must be between 1 and 65535',
    'mesh.yaml:14: extensionProviders[1].zipkin.service: is required',
    'mesh.yaml:14: extensionProviders[1].name: is required',
  ]);
});

test('extension provider and default provider semantics', () => {
  assert.deepEqual(texts(`extensionProviders:
- name: a
- name: b
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
  prometheus: {}
- name: b
  opentelemetry: {service: "not a host", port: 4317}
- name: c
  envoyFileAccessLog: {logFormat: {text: x, labels: {a: b}}}
defaultProviders:
  accessLogging: [envoy, missing]
accessLogEncoding: JSON
accessLogFormat: "not json"
rootNamespace: istio-config
`), [
    'mesh.yaml:2: extensionProviders[0]: must set one provider (zipkin, opentelemetry, envoyFileAccessLog, prometheus, ...)',
    'mesh.yaml:3: extensionProviders[1]: zipkin and prometheus are mutually exclusive',
    'mesh.yaml:6: extensionProviders[2].name: duplicate extension provider name "b"',
    'mesh.yaml:7: extensionProviders[2].opentelemetry.service: invalid service "not a host" (expected a host name such as zipkin.istio-system.svc.cluster.local, optionally namespace/host)',
    'mesh.yaml:7: warning: extensionProviders[2].opentelemetry: without http this provider exports OTLP over gRPC, which Clew\'s proxy does not do; set http: {path: /v1/traces}',
    'mesh.yaml:9: extensionProviders[3].envoyFileAccessLog.logFormat: text and labels are mutually exclusive',
    'mesh.yaml:11: warning: defaultProviders.accessLogging[1]: provider "missing" is not defined in extensionProviders',
    'mesh.yaml:13: accessLogFormat: must be a JSON object of log keys to format strings when accessLogEncoding is JSON',
    'mesh.yaml:14: warning: rootNamespace: Clew\'s root namespace is always istio-system; "istio-config" is ignored',
  ]);
});

test('document shape: YAML syntax, a list, two documents; errors leave the defaults in force', () => {
  assert.deepEqual(texts('accessLogFile: [\n'), ['mesh.yaml:2: yaml: Flow sequence in block collection must be sufficiently indented and end with a ]']);
  assert.deepEqual(texts('- accessLogFile: x\n'), ['mesh.yaml:1: a mesh config must be a mapping of MeshConfig fields']);
  assert.deepEqual(texts('accessLogFile: a\n---\naccessLogFile: b\n'), ['mesh.yaml:3: a mesh config is a single YAML document']);
  const bad = parseMeshConfigText('accessLogFile: 7\n', 'mesh.yaml');
  assert.deepEqual(bad.meshConfig, defaultMeshConfig());
  assert.equal(bad.document, undefined);
});

test('loadMeshConfigFile: a MeshConfig file, the istio ConfigMap (lines inside data.mesh map to the file), a missing file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-mesh-'));
  try {
    const plain = path.join(dir, 'mesh.yaml');
    fs.writeFileSync(plain, 'accessLogFile: /dev/stdout\n');
    assert.equal((await loadMeshConfigFile(plain)).meshConfig.accessLogFile, '/dev/stdout');

    const cm = path.join(dir, 'istio-cm.yaml');
    fs.writeFileSync(cm, `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    accessLogFile: /dev/stdout
    defaultConfig:
      tracing:
        sampling: 101
`);
    const r = await loadMeshConfigFile(cm);
    assert.deepEqual(r.messages.map(formatMessage), [`${cm}:11: defaultConfig.tracing.sampling: must be between 0 and 100`]);

    const quoted = path.join(dir, 'quoted.yaml');
    fs.writeFileSync(quoted, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata:\n  mesh: "accessLogEncoding: CSV"\n');
    assert.deepEqual((await loadMeshConfigFile(quoted)).messages.map(formatMessage), [`${quoted}:5: accessLogEncoding: must be one of TEXT, JSON; got "CSV"`]);

    const noMesh = path.join(dir, 'nomesh.yaml');
    fs.writeFileSync(noMesh, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio}\ndata: {other: x}\n');
    assert.deepEqual((await loadMeshConfigFile(noMesh)).messages.map(formatMessage), [
      `${noMesh}:1: data.mesh: is required: the ConfigMap must hold the mesh config as a string under data.mesh`,
    ]);

    await assert.rejects(loadMeshConfigFile(path.join(dir, 'nope.yaml')), (err: unknown) =>
      err instanceof ConfigPathError && err.message === `${path.join(dir, 'nope.yaml')}: no such file or directory`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('default exportTo fields are lists of namespaces (the builders read them)', () => {
  const r = parseMeshConfigText('defaultServiceExportTo: ["."]\ndefaultVirtualServiceExportTo: ["*"]\ndefaultDestinationRuleExportTo: [".", istio-system]\n', 'mesh.yaml');
  assert.deepEqual(r.messages, []);
  assert.deepEqual(r.meshConfig.defaultServiceExportTo, ['.']);
  assert.deepEqual(r.meshConfig.defaultDestinationRuleExportTo, ['.', 'istio-system']);
  assert.deepEqual(texts('defaultServiceExportTo: 3\n'), ['mesh.yaml:1: defaultServiceExportTo: must be a list, got integer 3']);
});
