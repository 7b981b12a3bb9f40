/** Names follow Kubernetes' rules per kind, with Kubernetes' messages (the kinds table's nameRule). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMessage, parseConfigText } from '../../src/config/index.js';

const vs = (name: string, extraMeta = '') =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\n${extraMeta}spec:\n  hosts: [r]\n  http: [{route: [{destination: {host: r}}]}]\n`;
const svc = (name: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${JSON.stringify(name)}}\nspec: {ports: [{name: http, port: 80}]}\n`;
const errors = (text: string) => parseConfigText(text, 'n.yaml').messages.filter((m) => m.severity === 'error').map(formatMessage);

test('a 253-character DNS-1123 subdomain is a valid name; 254 is refused with Kubernetes\' message', () => {
  const ok = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
  assert.equal(ok.length, 253);
  assert.deepEqual(errors(vs(ok)), []);
  const long = `${ok}e`;
  assert.deepEqual(errors(vs(long)), [`n.yaml:4: VirtualService default/${long}: metadata.name: Invalid value: "${long}": must be no more than 253 characters`]);
});

test('an invalid subdomain and namespace get Kubernetes\' RFC 1123 messages', () => {
  assert.deepEqual(errors(vs('Bad_Name')), [
    "n.yaml:4: VirtualService default/Bad_Name: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
  const ns = 'n'.repeat(64);
  assert.deepEqual(errors(vs('ok', `  namespace: ${ns}\n`)), [
    `n.yaml:5: VirtualService ${ns}/ok: metadata.namespace: Invalid value: "${ns}": must be no more than 63 characters`,
  ]);
  assert.match(errors(vs('ok', '  namespace: a.b\n'))[0], /metadata\.namespace: Invalid value: "a\.b": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'/);
});

test('Service names are DNS-1035 labels (Kubernetes\' rule for Services)', () => {
  assert.deepEqual(errors(svc('reviews')), []);
  assert.match(errors(svc('9reviews'))[0], /metadata\.name: Invalid value: "9reviews": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character/);
  assert.match(errors(svc('a.b'))[0], /a DNS-1035 label/);
  assert.match(errors(svc('s'.repeat(64)))[0], /must be no more than 63 characters/);
});

test('label keys and values follow Kubernetes\' rules', () => {
  assert.deepEqual(errors(vs('ok', '  labels: {app: reviews, example.com/tier: web, empty: ""}\n')), []);
  const bad = errors(vs('ok', `  labels: {"bad key": x, app: "-x", long: ${'v'.repeat(64)}}\n`));
  assert.equal(bad.length, 3, bad.join('\n'));
  assert.match(bad[0], /metadata\.labels: Invalid value: "bad key": name part must consist of alphanumeric characters/);
  assert.match(bad[1], /metadata\.labels\.app: Invalid value: "-x": a valid label must be an empty string or consist of/);
  assert.match(bad[2], /metadata\.labels\.long: Invalid value: "v+": must be no more than 63 characters/);
});
