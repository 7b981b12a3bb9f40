/**
 * Per-request cost of the CEL access-log filter (Istio's Telemetry filter.expression) in the
 * proxy: the expression is compiled once; each finished request builds the attributes it uses
 * from its StreamInfo and evaluates. Prints CPU ns per evaluation (median of 7 rounds) for
 * typical expressions, next to the hand-written status_code_filter for scale.
 *
 *   npm run build && node dist/bench/cel-access-log-filter.js [--n 200000]
 */
import { compileAccessLogFilter, type AccessLogPredicate } from '../src/proxy/telemetry/access-log-filter.js';
import { newStreamInfo, type StreamInfo } from '../src/proxy/core/stream-info.js';
import { CEL_EXPRESSION_FILTER_TYPE } from '../src/xds/type-urls.js';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 200_000;

function infos(): StreamInfo[] {
  // a realistic inbound request: 8 request headers, a response, addresses
  return Array.from({ length: 64 }, (_, k) => Object.assign(newStreamInfo('inbound', 'HTTP/1.1'), {
    method: 'GET', path: `/reviews/${k}?page=1`, authority: 'reviews:9080', responseCode: k % 8 === 0 ? 503 : 200, durationMs: 3.2,
    bytesReceived: 0, bytesSent: 1024, connectionSecurityPolicy: k % 2 ? 'mutual_tls' : 'none',
    requestHeaders: {
      host: 'reviews:9080', 'user-agent': 'curl/8.0', accept: '*/*', 'x-request-id': `id-${k}`, 'x-b3-traceid': 'abc', 'x-b3-spanid': 'def',
      'x-forwarded-proto': 'http', ...(k % 4 === 0 ? { 'x-debug': 'on' } : {}),
    },
    downstreamRemoteAddress: '127.0.1.1:40312', downstreamLocalAddress: '127.0.1.3:9080', upstreamCluster: 'inbound|9080||', routeName: 'default',
  }));
}

const cel = (expression: string): AccessLogPredicate => compileAccessLogFilter(
  { extension_filter: { name: 'envoy.access_loggers.extension_filters.cel', typed_config: { '@type': CEL_EXPRESSION_FILTER_TYPE, expression } } }, 'bench');

const CASES: Array<[string, AccessLogPredicate]> = [
  ['status_code_filter GE 400 (hand-written, for scale)', compileAccessLogFilter({ status_code_filter: { comparison: { op: 'GE', value: { default_value: 400 } } } }, 'bench')],
  ['CEL response.code >= 400', cel('response.code >= 400')],
  ["CEL request.headers['x-debug'] == 'on' || response.code >= 500", cel("request.headers['x-debug'] == 'on' || response.code >= 500")],
  ["CEL connection.mtls && request.url_path.startsWith('/reviews')", cel("connection.mtls && request.url_path.startsWith('/reviews')")],
];

function round(pred: AccessLogPredicate, list: StreamInfo[]): number {
  let hits = 0;
  // CPU time of this process, not wall time: on a shared machine the figure is what a request
  // costs, not how long it waited for a core
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) if (pred(list[i & 63]!)) hits++;
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / N;
  if (hits === 0 || hits === N) throw new Error('the filter should match some requests and not others');
  return ns;
}

const list = infos();
console.log(`node ${process.version}, ${N} evaluations per round, CPU time, median of 7 rounds (after 1 warm-up round), load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
for (const [name, pred] of CASES) {
  round(pred, list);
  const rounds = Array.from({ length: 7 }, () => round(pred, list)).sort((a, b) => a - b);
  console.log(`${rounds[3]!.toFixed(0).padStart(6)} CPU ns/eval  ${name}`);
}
