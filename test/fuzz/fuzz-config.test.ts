/**
 * Fuzz targets of YAML loading and validation (src/config):
 * - any text: parseConfigText never throws and answers quickly;
 * - generated Istio config (VirtualService, DestinationRule, Gateway with hostile strings,
 *   numbers and durations) written as YAML: whatever validates without errors must build and be
 *   taken by the proxy's own parsers for a sidecar and a gateway (issue 23 item 6: a header value
 *   with CR/LF validated, then every proxy NACKed and route updates froze mesh-wide).
 * Corpus: test/fixtures/fuzz/config/*.yaml and the samples' YAML, replayed every run.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { formatMessage, parseConfigText, validateResources, type ConfigResource } from '../../src/config/index.js';
import { makePc, proxy, kubeService } from '../control-plane/builders/fixtures.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { fuzzParams, FuzzStats } from './fuzz-params.js';
import { proxyAccepts } from './proxy-accepts.js';

const CORPUS_DIRS = ['test/fixtures/fuzz/config', 'samples/bookinfo/networking'].map((d) => join(REPO_ROOT, d));
const corpus = CORPUS_DIRS.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.yaml')).map((f) => ({ file: f, text: readFileSync(join(d, f), 'utf8') })));

const SERVICES: ConfigResource[] = [
  kubeService('reviews', [{ name: 'http', port: 9080 }]),
  kubeService('ratings', [{ name: 'http', port: 9080 }, { name: 'tcp-db', port: 3306 }]),
];
const SIDECAR = proxy();
const GATEWAY = proxy({ type: 'router', name: 'istio-ingressgateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, podPorts: [] });

/** Errors (not warnings) of the text as a whole: per resource and across resources. */
function errorsOf(text: string): { errors: string[]; resources: ConfigResource[] } {
  const parsed = parseConfigText(text, 'fuzz.yaml');
  const cross = validateResources([...SERVICES, ...parsed.resources]);
  const errors = [...parsed.messages, ...cross].filter((m) => m.severity === 'error').map(formatMessage);
  return { errors, resources: parsed.resources };
}

let validInputs = 0;

function checkValidIsAccepted(text: string): void {
  const { errors, resources } = errorsOf(text);
  if (errors.length) {
    if (process.env.CLEW_FUZZ_DEBUG) process.stderr.write(`${errors[0]}\n`);
    return;
  }
  validInputs++;
  const pc = makePc([...SERVICES, ...resources]);
  for (const p of [SIDECAR, GATEWAY]) {
    try {
      proxyAccepts(pc, p);
    } catch (err) {
      assert.fail(`config validated but the ${p.type} proxy rejects it: ${(err as Error).message}\n${text}`);
    }
  }
}

// ------------------------------------------------------------------ arbitraries
const hostile = fc.constantFrom(
  '', ' ', 'a', 'x\r\ny: z', 'a\nb', 'a\rb', 'a\u0000b', 'tab\there', 'é', '\u2028', 'ünïcode', ':authority', 'Host', 'UPPER', 'a b',
  '/', '/a b', '/ok', '//', '*', '.', '..', '-', 'x'.repeat(300), '%00', '{', '"', "'", '\\', '$1', '\t',
);
/** Mostly plausible values, sometimes hostile ones: one bad field makes a whole input invalid. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: bad });
const word = fc.stringMatching(/^[a-z0-9][a-z0-9/._-]{0,10}$/);
const str = mostly(word, fc.oneof(hostile, fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 })));
const headerName = mostly(fc.constantFrom('x-a', 'x-b', 'content-type', 'X-Upper', 'end-user'),
  fc.oneof(fc.constantFrom(':path', 'bad name', 'x\r\n', '', 'host', 'a:b'), fc.string({ maxLength: 6 })));
const host = mostly(fc.constantFrom('reviews', 'ratings', 'reviews.default.svc.cluster.local', 'example.com', '*.example.com'),
  fc.constantFrom('*', 'Bad_Host', '10.0.0.1', 'a..b', ''));
const duration = mostly(
  fc.oneof(fc.constantFrom('1s', '100ms', '1.5s', '1m30s', '596h31m23s'), fc.integer({ min: 1, max: 10_000_000 }).map((n) => `${n}ms`)),
  fc.constantFrom('0s', '10000h', '597h', '1ns', '-1s', 'x', '0.0001s', ''),
);
const int = mostly(fc.integer({ min: 1, max: 100 }), fc.oneof(fc.integer({ min: -2, max: 700 }), fc.constantFrom(0, 65535, 65536, 2 ** 31, 2 ** 32 + 1, 1e15, 1.5, -1)));
const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const stringMatch = fc.oneof(
  fc.record({ exact: str }), fc.record({ prefix: str }),
  fc.record({ regex: mostly(fc.constantFrom('^/api/.*', '\\d+', '.*', 'a|b'), fc.oneof(str, fc.constantFrom('(a+)+$', '[', 'a{2,1}', '(?i)x'))) }),
);
const headerOps = fc.record({
  set: optional(fc.dictionary(headerName, str, { maxKeys: 2 })),
  add: optional(fc.dictionary(headerName, str, { maxKeys: 2 })),
  remove: optional(fc.array(headerName, { maxLength: 2 })),
}, { requiredKeys: [] });
const headers = fc.record({ request: optional(headerOps), response: optional(headerOps) }, { requiredKeys: [] });
const destination = fc.record({
  host, subset: optional(fc.constantFrom('v1', 'v2', 'bad subset')), port: optional(fc.record({ number: mostly(fc.constantFrom(9080, 3306), int) })),
}, { requiredKeys: ['host'] });
const routeDest = fc.record({ destination, weight: optional(mostly(fc.integer({ min: 0, max: 100 }), int)), headers: optional(headers) }, { requiredKeys: ['destination'] });
const match = fc.record({
  uri: optional(stringMatch), method: optional(stringMatch), authority: optional(stringMatch), scheme: optional(stringMatch),
  headers: optional(fc.dictionary(headerName, stringMatch, { maxKeys: 2 })),
  queryParams: optional(fc.dictionary(str, stringMatch, { maxKeys: 1 })),
  ignoreUriCase: optional(fc.boolean()), port: optional(int),
}, { requiredKeys: [] });
const action = fc.oneof(
  fc.record({ route: fc.array(routeDest, { minLength: 1, maxLength: 3 }) }),
  fc.record({ redirect: fc.record({ uri: optional(str), authority: optional(str), scheme: optional(str), redirectCode: optional(mostly(fc.constantFrom(301, 302, 308), int)), port: optional(int) }, { requiredKeys: [] }) }),
  fc.record({ directResponse: fc.record({ status: mostly(fc.constantFrom(200, 404, 503), int), body: optional(fc.record({ string: str })) }, { requiredKeys: ['status'] }) }),
);
const httpRoute = fc.tuple(action, fc.record({
  name: optional(str),
  match: optional(fc.array(match, { maxLength: 2 })),
  rewrite: optional(fc.oneof(
    fc.record({ uri: optional(str), authority: optional(str) }, { requiredKeys: [] }),
    fc.record({ uriRegexRewrite: fc.record({ match: fc.oneof(str, fc.constant('^/a/(.*)')), rewrite: str }) }),
  )),
  timeout: optional(duration),
  retries: optional(fc.record({ attempts: optional(int), perTryTimeout: optional(duration), retryOn: optional(fc.oneof(str, fc.constantFrom('5xx,reset', '503', 'gateway-error,500'))) }, { requiredKeys: [] })),
  fault: optional(fc.record({
    delay: optional(fc.record({ fixedDelay: duration, percentage: optional(fc.record({ value: mostly(fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: -1, max: 101, noNaN: true })) })) })),
    abort: optional(fc.record({ httpStatus: mostly(fc.constantFrom(400, 503), int), percentage: optional(fc.record({ value: mostly(fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: -1, max: 101, noNaN: true })) })) })),
  }, { requiredKeys: [] }).filter((f) => f.delay !== undefined || f.abort !== undefined)),
  mirror: optional(destination),
  mirrorPercentage: optional(fc.record({ value: mostly(fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: -1, max: 101, noNaN: true })) })),
  corsPolicy: optional(fc.record({
    allowOrigins: optional(fc.array(stringMatch, { maxLength: 2 })),
    allowMethods: optional(fc.array(str, { maxLength: 2 })), allowHeaders: optional(fc.array(str, { maxLength: 2 })),
    exposeHeaders: optional(fc.array(str, { maxLength: 2 })), maxAge: optional(duration), allowCredentials: optional(fc.boolean()),
  }, { requiredKeys: [] })),
  headers: optional(headers),
}, { requiredKeys: [] })).map(([a, rest]) => {
  const route: Record<string, unknown> = { ...rest, ...a };
  // a redirect or a direct response excludes a rewrite and a fault (Istio's rules, which the
  // validator applies): generate the valid combinations, so most inputs validate
  if ('redirect' in a || 'directResponse' in a) {
    delete route.rewrite;
    delete route.fault;
  }
  return route;
});
const virtualService = fc.record({
  hosts: fc.uniqueArray(host, { minLength: 1, maxLength: 3 }),
  gateways: optional(fc.constantFrom(['mesh'], ['istio-system/gw'], ['istio-system/gw', 'mesh'])),
  http: fc.array(httpRoute, { minLength: 1, maxLength: 3 }),
  tcp: optional(fc.array(fc.record({ match: optional(fc.array(fc.record({ port: int }), { maxLength: 1 })), route: fc.array(fc.record({ destination, weight: optional(mostly(fc.integer({ min: 0, max: 100 }), int)) }), { minLength: 1, maxLength: 2 }) }, { requiredKeys: ['route'] }), { maxLength: 1 })),
}, { requiredKeys: ['hosts', 'http'] });
const trafficPolicy = fc.record({
  loadBalancer: optional(fc.oneof(
    fc.record({ simple: fc.constantFrom('ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM', 'PASSTHROUGH', 'BOGUS') }),
    fc.record({ consistentHash: fc.oneof(fc.record({ httpHeaderName: headerName }), fc.record({ httpCookie: fc.record({ name: str, ttl: optional(duration), path: optional(str) }, { requiredKeys: ['name'] }) }), fc.record({ useSourceIp: fc.boolean() }), fc.record({ httpQueryParameterName: str })) }),
  )),
  connectionPool: optional(fc.record({
    tcp: optional(fc.record({ maxConnections: optional(int), connectTimeout: optional(duration), idleTimeout: optional(duration) }, { requiredKeys: [] })),
    http: optional(fc.record({ http1MaxPendingRequests: optional(int), http2MaxRequests: optional(int), maxRequestsPerConnection: optional(int), maxRetries: optional(int), idleTimeout: optional(duration) }, { requiredKeys: [] })),
  }, { requiredKeys: [] })),
  outlierDetection: optional(fc.record({
    consecutive5xxErrors: optional(int), consecutiveGatewayErrors: optional(int), interval: optional(duration), baseEjectionTime: optional(duration),
    maxEjectionPercent: optional(int), minHealthPercent: optional(int),
  }, { requiredKeys: [] })),
}, { requiredKeys: [] });
const destinationRule = fc.record({
  host,
  trafficPolicy: optional(trafficPolicy),
  subsets: optional(fc.array(fc.record({ name: fc.constantFrom('v1', 'v2', 'V1', ''), labels: optional(fc.dictionary(fc.constantFrom('version', 'a b'), str, { maxKeys: 1 })), trafficPolicy: optional(trafficPolicy) }, { requiredKeys: ['name'] }), { maxLength: 2 })),
}, { requiredKeys: ['host'] });
const gateway = fc.record({
  selector: fc.constant({ istio: 'ingressgateway' }),
  servers: fc.array(fc.record({
    port: fc.record({ number: fc.constantFrom(80, 8080, 0, 70000), name: fc.constantFrom('http', 'http2', 'tcp'), protocol: fc.constantFrom('HTTP', 'HTTP2', 'TCP', 'GRPC', 'BOGUS') }),
    hosts: fc.array(fc.constantFrom('*', 'reviews.example.com', 'istio-system/*', '*/x.example.com', 'Bad Host'), { minLength: 1, maxLength: 2 }),
  }), { minLength: 1, maxLength: 2 }),
});

const doc = (kind: string, name: string, spec: unknown, namespace = 'default') =>
  stringify({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name, namespace }, spec });

const configText = fc.tuple(
  fc.array(virtualService, { minLength: 1, maxLength: 2 }),
  fc.array(destinationRule, { maxLength: 2 }),
  optional(gateway),
).map(([vss, drs, gw]) => [
  ...vss.map((s, i) => doc('VirtualService', `vs${i}`, s)),
  ...drs.map((s, i) => doc('DestinationRule', `dr${i}`, s)),
  ...(gw ? [doc('Gateway', 'gw', gw, 'istio-system')] : []),
].join('---\n'));

// ------------------------------------------------------------------ targets
test('corpus: every file that validates is taken by the proxies; the known-bad ones are refused', () => {
  for (const { file, text } of corpus) checkValidIsAccepted(text);
  const bad = corpus.filter((c) => /^(header-crlf|rewrite-cors-values)\.yaml$/.test(c.file));
  assert.equal(bad.length, 2);
  for (const { file, text } of bad) assert.ok(errorsOf(text).errors.length > 0, `${file} must not validate`);
  assert.match(errorsOf(bad[0].text).errors.join('\n'), /spec\.http\[0\]\.headers\.request\.set\.x-bad: value contains a control character/);
});

test('fuzz: generated config that validates is taken by the sidecar and the gateway proxy', () => {
  const stats = new FuzzStats();
  const before = validInputs;
  fc.assert(fc.property(configText, (text) => stats.time(() => checkValidIsAccepted(text))), fuzzParams(150));
  stats.report(`config-validate-proxy (${validInputs - before} of them valid)`);
  // the property says something only if a fair share of the inputs validates
  assert.ok(validInputs - before >= stats.inputs / 20, `only ${validInputs - before} of ${stats.inputs} inputs validated`);
});

test('fuzz: YAML loading and validation never throw and stay fast on any text', () => {
  const stats = new FuzzStats();
  const seeds = corpus.map((c) => c.text);
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.string({ unit: 'binary', maxLength: 40 }), fc.nat()).map(([s, at, insert, cut]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + insert + s.slice(Math.min(s.length, i + (cut % 20)));
  });
  const text = fc.oneof(mutated, fc.string({ unit: 'binary', maxLength: 200 }), configText);
  fc.assert(fc.property(text, (t) => {
    stats.time(() => errorsOf(t));
    assert.ok(stats.lastMs < 1000, `one input took ${stats.lastMs.toFixed(0)} ms of CPU`);
  }), fuzzParams(300));
  stats.report('config-yaml');
});
