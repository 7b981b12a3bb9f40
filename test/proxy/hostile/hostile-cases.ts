/**
 * The hostile-input cases: raw bytes sent to a proxy target and what must come of them. Every
 * case is run against the gateway, the sidecar's outbound and its inbound
 * (hostile-suite.test.ts), and after each one the target must still answer a normal request and
 * its process must still be running.
 *
 * Adding a case: one row. `send` gets the target's authority (its Host value); `status` lists the
 * acceptable first status codes (0 = no response at all, e.g. a reset); `closes` says the proxy
 * must end the connection (it must not wait for more); `appSees` is the request-target the app
 * must receive (for cases that pass, such as path normalization), `appNever` a marker the app
 * must never see (a smuggled request). `only` limits a case to some targets.
 *
 * Sources: the reproductions (23: items 1, 9), Envoy's codec and integration tests for
 * request smuggling (CL+TE, TE variants, duplicate and malformed Content-Length, obs-fold, space
 * before the colon, bare LF, NUL and CR in values), Istio's gateway smuggling checks.
 */
import type { TargetName } from './hostile-stack.js';

export interface HostileCase {
  name: string;
  /** the bytes (parts are written with a short pause between them) */
  send(authority: string): string | Buffer | Array<string | Buffer>;
  /** acceptable status codes of the first response (0: none, the connection was just closed or reset) */
  status: number[];
  /** the proxy must close the connection by itself (default true) */
  closes?: boolean;
  /** the exact request-target the app must receive */
  appSees?: string;
  /** no request whose target contains this may reach the app */
  appNever?: string;
  /** run only against these targets */
  only?: TargetName[];
  /** where the case comes from */
  source: string;
}

const CHUNKED = (a: string) => `POST /chunked HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: chunked\r\n\r\n`;
const fields = (n: number) => Array.from({ length: n }, (_, i) => `x-f${i}: v\r\n`).join('');

/** Item 1: a body llhttp rejects after the headers used to kill the process. */
export const BODY_CASES: HostileCase[] = [
  { name: 'chunk size zz', send: (a) => `${CHUNKED(a)}zz\r\nhello\r\n0\r\n\r\n`, status: [400], source: 'issue 23 item 1' },
  { name: 'chunk size -1', send: (a) => `${CHUNKED(a)}-1\r\nhello\r\n0\r\n\r\n`, status: [400], source: 'issue 23 item 1' },
  { name: 'chunk size 0x5', send: (a) => `${CHUNKED(a)}0x5\r\nhello\r\n0\r\n\r\n`, status: [400], source: 'issue 23 item 1' },
  { name: 'chunk size in a later read', send: (a) => [`${CHUNKED(a)}5\r\nhello\r\n`, 'zz\r\n'], status: [400], source: 'issue 23 item 1' },
  { name: 'Transfer-Encoding: identity', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: identity\r\n\r\nhello`, status: [501], source: 'issue 23 item 1; Envoy http1.invalid_transfer_encoding' },
  { name: 'Transfer-Encoding: xchunked', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: xchunked\r\n\r\nhello`, status: [501], source: 'issue 23 item 1' },
  { name: 'bare-LF chunk lines', send: (a) => `${CHUNKED(a)}5\nhello\n0\n\n`, status: [400], source: 'issue 23 item 1' },
  { name: 'a chunk longer than its size', send: (a) => `${CHUNKED(a)}3\r\nhello\r\n0\r\n\r\n`, status: [400], source: 'issue 23 item 1' },
  { name: 'a 20 KB chunk extension', send: (a) => `${CHUNKED(a)}5;${'e'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`, status: [400], source: 'issue 23 item 1' },
  { name: 'chunk size overflow', send: (a) => `${CHUNKED(a)}fffffffffffffffffff\r\nhello\r\n0\r\n\r\n`, status: [400], source: 'Envoy codec_impl_test' },
  { name: 'chunk size with a trailing space', send: (a) => `${CHUNKED(a)}5 \r\nhello\r\n0\r\n\r\n`, status: [400], source: 'llhttp strict chunk size' },
  { name: 'no CRLF after the chunk data', send: (a) => `${CHUNKED(a)}5\r\nhelloXX0\r\n\r\n`, status: [400], source: 'Envoy codec_impl_test' },
];

/** Request smuggling shapes: rejected before any byte reaches the app. */
export const SMUGGLING_CASES: HostileCase[] = [
  {
    name: 'CL.TE: Content-Length and chunked',
    send: (a) => `POST /clte HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${a}\r\n\r\n`,
    status: [400], appNever: '/smuggled', source: 'Envoy ContentLengthAndTransferEncoding',
  },
  {
    name: 'TE.CL: chunked then Content-Length',
    send: (a) => `POST /tecl HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: ${a}\r\n\r\n0\r\n\r\n`,
    status: [400], appNever: '/smuggled', source: 'Envoy ContentLengthAndTransferEncoding',
  },
  { name: 'two different Content-Length', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`, status: [400], source: 'Envoy DuplicateContentLength' },
  { name: 'two equal Content-Length', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nabcde`, status: [400], source: 'llhttp (Envoy coalesces equal values; rejecting is stricter)' },
  { name: 'Content-Length list', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 5, 5\r\n\r\nabcde`, status: [400], source: 'Envoy codec_impl_test' },
  { name: 'negative Content-Length', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: -5\r\n\r\nabcde`, status: [400], source: 'Envoy codec_impl_test' },
  { name: 'Content-Length with a plus sign', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: +5\r\n\r\nabcde`, status: [400], source: 'Envoy codec_impl_test' },
  { name: 'hex Content-Length', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 0x5\r\n\r\nabcde`, status: [400], source: 'Envoy codec_impl_test' },
  { name: 'Content-Length overflow', send: (a) => `POST /cl HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 99999999999999999999999\r\n\r\nabcde`, status: [400], source: 'Envoy codec_impl_test' },
  { name: 'space before the colon (Transfer-Encoding)', send: (a) => `POST /sp HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, status: [400], source: 'Envoy HeaderNameWithSpace' },
  { name: 'space before the colon (Content-Length)', send: (a) => `POST /sp HTTP/1.1\r\nHost: ${a}\r\nContent-Length : 5\r\n\r\nabcde`, status: [400], source: 'Envoy HeaderNameWithSpace' },
  { name: 'obs-fold Transfer-Encoding', send: (a) => `POST /fold HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, status: [400], source: 'RFC 9112 5.2; Envoy obs-fold' },
  { name: 'obs-fold in any header', send: (a) => `GET /fold HTTP/1.1\r\nHost: ${a}\r\nX-A: one\r\n two\r\n\r\n`, status: [400], source: 'RFC 9112 5.2' },
  { name: 'chunked, identity', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: chunked, identity\r\n\r\nabc`, status: [400, 501], source: 'Envoy codec_impl_test' },
  { name: 'identity, chunked', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n`, status: [400, 501], source: 'Envoy: only chunked' },
  { name: 'two Transfer-Encoding headers', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: [400, 501], source: 'Envoy: only chunked' },
  { name: 'Transfer-Encoding with a vertical tab', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n`, status: [400, 501], source: 'TE obfuscation' },
  { name: 'Transfer-Encoding: CHUNKED with a trailing tab', send: (a) => `POST /te HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: chunked\t\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`, status: [400], source: 'TE obfuscation' },
  { name: 'CONNECT with a body', send: (a) => `CONNECT ${a} HTTP/1.1\r\nHost: ${a}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: [501], source: 'Envoy: CONNECT with a body, 501' },
  { name: 'bare LF line endings in the head', send: (a) => `GET /lf HTTP/1.1\nHost: ${a}\n\n`, status: [400], source: 'Envoy BareLf' },
  { name: 'bare CR in a header value', send: (a) => `GET /cr HTTP/1.1\r\nHost: ${a}\r\nX-A: a\rb\r\n\r\n`, status: [400], source: 'Envoy InvalidCharacters' },
  { name: 'NUL in a header value', send: (a) => `GET /nul HTTP/1.1\r\nHost: ${a}\r\nX-A: a\x00b\r\n\r\n`, status: [400], source: 'Envoy InvalidCharacters' },
  { name: 'NUL in a header name', send: (a) => `GET /nul HTTP/1.1\r\nHost: ${a}\r\nX-\x00A: b\r\n\r\n`, status: [400], source: 'Envoy InvalidCharacters' },
  { name: 'a space in the request target', send: (a) => `GET /a b HTTP/1.1\r\nHost: ${a}\r\n\r\n`, status: [400], source: 'llhttp' },
  { name: 'a control character in the request target', send: (a) => `GET /a\x01b HTTP/1.1\r\nHost: ${a}\r\n\r\n`, status: [400], source: 'llhttp' },
  { name: 'a lower-case method', send: (a) => `get / HTTP/1.1\r\nHost: ${a}\r\n\r\n`, status: [400], source: 'llhttp' },
  { name: 'an invalid method', send: (a) => `G@T / HTTP/1.1\r\nHost: ${a}\r\n\r\n`, status: [400], source: 'llhttp' },
  { name: 'HTTP/1.1 without Host', send: () => 'GET /nohost HTTP/1.1\r\n\r\n', status: [400], only: ['gateway', 'inbound'], source: 'RFC 9112 3.2' },
  { name: 'a 400 after a pipelined request: the earlier one is answered', send: (a) => `GET /first HTTP/1.1\r\nHost: ${a}\r\n\r\nPOST /second HTTP/1.1\r\nHost: ${a}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`, status: [200], appNever: '/second', source: 'pipelining' },
];

/** Item 9: edges of the HTTP/1 codec. */
export const EDGE_CASES: HostileCase[] = [
  { name: 'HTTP/1.0 with chunked', send: (a) => `POST /h10 HTTP/1.0\r\nHost: ${a}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, status: [400], appNever: '/h10', source: 'issue 23 item 9; RFC 9112 6.1' },
  { name: 'an HTTP/2.0 request line', send: (a) => `GET /h2 HTTP/2.0\r\nHost: ${a}\r\n\r\n`, status: [400], appNever: '/h2', source: 'issue 23 item 9' },
  { name: 'an HTTP/1.2 request line', send: (a) => `GET /h12 HTTP/1.2\r\nHost: ${a}\r\n\r\n`, status: [400], source: 'llhttp' },
  { name: 'an HTTP/3.0 request line', send: (a) => `GET /h3 HTTP/3.0\r\nHost: ${a}\r\n\r\n`, status: [400], source: 'llhttp' },
  { name: 'HTTP/0.9', send: () => 'GET /h09\r\n', status: [400], source: 'issue 23 item 9' },
  { name: 'HTTP/0.9 in two reads', send: () => ['GET /h', '09\r\n'], status: [400], source: 'issue 23 item 9' },
  { name: '101 request headers', send: (a) => `GET /many HTTP/1.1\r\nHost: ${a}\r\n${fields(100)}\r\n`, status: [431], appNever: '/many', source: 'issue 23 item 9; Envoy max_headers_count' },
  { name: '10,000 request headers', send: (a) => `GET /many HTTP/1.1\r\nHost: ${a}\r\n${Array.from({ length: 10_000 }, () => 'a: b\r\n').join('')}\r\n`, status: [431], appNever: '/many', source: 'issue 23 item 9' },
  { name: 'an oversized header', send: (a) => `GET /big HTTP/1.1\r\nHost: ${a}\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, status: [431], source: 'Envoy max_request_headers_kb' },
  // the inbound port is PERMISSIVE (mTLS by default): a ClientHello there is TLS, not garbage
  { name: 'garbage', send: () => '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', status: [400], only: ['gateway', 'outbound'], source: 'a TLS ClientHello on a plaintext port' },
];

/** Item 5: Upgrade requests under the HCM's rules. */
export const UPGRADE_CASES: HostileCase[] = [
  {
    name: 'an Upgrade type nobody enabled, with a request behind it',
    send: (a) => `GET /up-foo HTTP/1.1\r\nHost: ${a}\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${a}\r\n\r\n`,
    status: [403], appNever: '/smuggled', source: 'issue 23 item 5; Envoy upgrade_failed',
  },
  {
    name: 'h2c upgrade: served as HTTP/1.1, the next request too',
    send: (a) => `GET /h2c-first HTTP/1.1\r\nHost: ${a}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nGET /h2c-second HTTP/1.1\r\nHost: ${a}\r\nConnection: close\r\n\r\n`,
    status: [200], appSees: '/h2c-second', source: 'issue 23 item 5; h2c smuggling (Envoy strips h2c)',
  },
  {
    name: 'h2c upgrade with an HTTP/2 preface behind it',
    send: (a) => `GET /h2c-preface HTTP/1.1\r\nHost: ${a}\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
    status: [200], appNever: 'PRI', source: 'h2c smuggling',
  },
];


const GET = (path: string) => (a: string) => `GET ${path} HTTP/1.1\r\nHost: ${a}\r\n\r\n`;

/**
 * Item 4: paths are normalized before routing (MeshConfig pathNormalization, default BASE): the
 * app sees the normalized path. Cases from Istio's PathNormalization test and Envoy's
 * path_utility tests.
 */
export const NORMALIZATION_CASES: HostileCase[] = [
  { name: 'dot-dot out of a prefix', send: GET('/public/../secret.txt'), status: [200], closes: false, appSees: '/secret.txt', appNever: '..', source: 'issue 23 item 4' },
  { name: 'escaped dot-dot', send: GET('/public/%2e%2e/secret.txt'), status: [200], closes: false, appSees: '/secret.txt', appNever: '%2e', source: 'issue 23 item 4' },
  { name: 'mixed-case escaped dot-dot', send: GET('/public/%2E%2e/secret.txt'), status: [200], closes: false, appSees: '/secret.txt', source: 'Istio PathNormalization (/app/%2E./admin)' },
  { name: 'backslash as a separator', send: GET('/public/..\\secret.txt'), status: [200], closes: false, appSees: '/secret.txt', source: 'Istio PathNormalization (/app\\admin)' },
  { name: 'dot segments and a double slash', send: GET('/app//../admin/./x'), status: [200], closes: false, appSees: '/app/admin/x', source: 'Istio PathNormalization BASE' },
  { name: 'unreserved escapes decoded, others kept', send: GET('/x%41%7e%2F%25'), status: [200], closes: false, appSees: '/xA~%2F%25', source: 'Istio PathNormalization (percent-encoded table)' },
  { name: 'a fragment is dropped', send: GET('/frag#../../admin'), status: [200], closes: false, appSees: '/frag', source: 'Istio PathNormalization (/app#foo)' },
  { name: 'an escaped NUL', send: GET('/admin%00'), status: [400], closes: false, appNever: '/admin', source: 'Istio PathNormalization (Invalid)' },
];

/** Item 3: a route regex that backtracks catastrophically in JS answers at once (RE2, linear). */
export const REGEX_CASES: HostileCase[] = [
  { name: 'catastrophic-backtracking path on a regex route', send: GET(`/api/${'a'.repeat(40)}!`), status: [200], closes: false, only: ['gateway', 'outbound'], source: 'issue 23 item 3' },
  { name: 'the regex route still matches', send: GET(`/api/${'a'.repeat(40)}`), status: [200], closes: false, appSees: `/api/${'a'.repeat(40)}`, only: ['gateway', 'outbound'], source: 'issue 23 item 3' },
];


export const ALL_CASES: HostileCase[] = [...BODY_CASES, ...SMUGGLING_CASES, ...EDGE_CASES, ...UPGRADE_CASES, ...NORMALIZATION_CASES, ...REGEX_CASES];
