/**
 * PeerAuthentication (security.istio.io v1/v1beta1) with Istio's validation messages, and
 * Kubernetes TLS Secrets (credentialName material): keys decode and parse, key matches
 * certificate; each message names file, line, resource and field, never the secret value.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatMessage, parseConfigText, toYaml } from '../../src/config/index.js';
import { doc, runCases, type Case } from './cases-helper.js';
import { openssl } from '../security/helpers/openssl.js';

const pa = (spec: string, v = 'v1') => doc('PeerAuthentication', spec, `security.istio.io/${v}`);
const at = (line: number, rest: string) => `test.yaml:${line}: PeerAuthentication default/x: ${rest}`;

const cases: Case[] = [
  { name: 'PA: namespace STRICT (v1) and workload PERMISSIVE with port DISABLE (v1beta1) are valid', yaml: `${pa('  mtls: {mode: STRICT}\n')}\n---\n${pa('  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: PERMISSIVE}\n  portLevelMtls:\n    "9080": {mode: DISABLE}\n', 'v1beta1').replace('name: x', 'name: x2')}`, want: [] },
  {
    name: 'PA: portLevelMtls without selector',
    yaml: pa('  mtls: {mode: STRICT}\n  portLevelMtls:\n    "8080": {mode: DISABLE}\n'),
    want: [at(7, 'spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS (portLevelMtls requires selector)')],
  },
  {
    name: 'PA: empty portLevelMtls, port out of range, port not a number',
    yaml: pa('  selector: {matchLabels: {app: a}}\n  portLevelMtls: {}\n---\n').replace('---\n', '') + '\n---\n' + pa('  selector: {matchLabels: {app: a}}\n  portLevelMtls:\n    "0": {mode: STRICT}\n    http: {mode: STRICT}\n').replace('name: x', 'name: z'),
    want: [
      at(7, 'spec.portLevelMtls: port level mTLS, if defined, must have at least one element'),
      'test.yaml:17: PeerAuthentication default/z: spec.portLevelMtls.0: port must be in range 1..65535',
      'test.yaml:18: PeerAuthentication default/z: spec.portLevelMtls.http: port "http" is not a number',
    ],
  },
  {
    name: 'PA: unknown mode and wildcard selector',
    yaml: pa('  selector: {matchLabels: {app: "*"}}\n  mtls: {mode: BLAH}\n'),
    want: [
      at(6, 'spec.selector.matchLabels.app: wildcard is not supported in selector'),
      at(7, 'spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT; got "BLAH"'),
    ],
  },
  {
    name: 'PA: an unknown version is refused',
    yaml: pa('  mtls: {mode: STRICT}\n', 'v1alpha1'),
    want: ['test.yaml:1: PeerAuthentication default/x: apiVersion: unsupported apiVersion "security.istio.io/v1alpha1" for PeerAuthentication (accepted: security.istio.io/v1beta1, security.istio.io/v1)'],
  },
];
runCases(cases);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-secret-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function selfSigned(name: string): { cert: string; key: string } {
  const d = path.join(tmp, name);
  fs.mkdirSync(d);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '2', '-subj', `/CN=${name}`], d);
  return { cert: fs.readFileSync(path.join(d, 'c.pem'), 'utf8'), key: fs.readFileSync(path.join(d, 'k.pem'), 'utf8') };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(lines: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: gw-cert\n  namespace: istio-system\n${lines}`;
}

function messages(yaml: string): string[] {
  return parseConfigText(yaml, 's.yaml').messages.map(formatMessage);
}

test('Secret: a kubernetes.io/tls Secret loads; its fields stay at the top level in YAML output', () => {
  const a = selfSigned('a');
  const yaml = secret(`type: kubernetes.io/tls\ndata:\n  tls.crt: ${b64(a.cert)}\n  tls.key: ${b64(a.key)}\n`);
  const r = parseConfigText(yaml, 's.yaml');
  assert.deepEqual(r.messages, []);
  assert.equal(r.resources.length, 1);
  const out = toYaml(r.resources);
  assert.match(out, /^type: kubernetes.io\/tls$/m);
  assert.match(out, /^data:\n {2}tls.crt: /m);
  assert.doesNotMatch(out, /^spec:/m);
  // stringData (plain PEM) and Istio's generic keys (cert/key/cacert) work too
  assert.deepEqual(messages(secret(`stringData:\n  cert: |\n${a.cert.replace(/^/gm, '    ')}\n  key: |\n${a.key.replace(/^/gm, '    ')}\n  cacert: |\n${a.cert.replace(/^/gm, '    ')}\n`)), []);
});

test('Secret: missing key, bad certificate, mismatched key, not base64, spec: each names the field, never the value', () => {
  const a = selfSigned('b');
  const c = selfSigned('c');
  assert.deepEqual(messages(secret(`type: kubernetes.io/tls\ndata:\n  tls.crt: ${b64(a.cert)}\n`)), [
    's.yaml:7: Secret istio-system/gw-cert: data["tls.key"]: is required for a Secret of type kubernetes.io/tls',
    's.yaml:7: Secret istio-system/gw-cert: data["tls.key"]: is required with data["tls.crt"]',
  ]);
  assert.deepEqual(messages(secret(`type: kubernetes.io/tls\ndata:\n  tls.crt: ${b64('hello')}\n  tls.key: ${b64(a.key)}\n`)), [
    's.yaml:8: Secret istio-system/gw-cert: data["tls.crt"]: not a PEM certificate',
  ]);
  const mismatch = messages(secret(`type: kubernetes.io/tls\ndata:\n  tls.crt: ${b64(a.cert)}\n  tls.key: ${b64(c.key)}\n  ca.crt: ${b64('nope')}\n`));
  assert.deepEqual(mismatch, [
    's.yaml:9: Secret istio-system/gw-cert: data["tls.key"]: the private key does not match the certificate in data["tls.crt"]',
    's.yaml:10: Secret istio-system/gw-cert: data["ca.crt"]: not a PEM certificate bundle',
  ]);
  assert.ok(!mismatch.join('\n').includes('PRIVATE KEY'), 'no key material in messages');
  assert.deepEqual(messages(secret('data:\n  tls.crt: "%%% not base64"\n')), [
    's.yaml:6: Secret istio-system/gw-cert: data["tls.key"]: is required with data["tls.crt"]',
    's.yaml:7: Secret istio-system/gw-cert: data["tls.crt"]: value is not base64 (use stringData for plain text)',
    's.yaml:7: Secret istio-system/gw-cert: data["tls.crt"]: not a PEM certificate',
  ]);
  assert.deepEqual(messages(secret('spec:\n  data: {}\n')), ['s.yaml:6: Secret istio-system/gw-cert: spec: unknown field']);
  // an unrelated key: fine
  assert.deepEqual(messages(secret(`data:\n  token: ${b64('x')}\n`)), []);
});
