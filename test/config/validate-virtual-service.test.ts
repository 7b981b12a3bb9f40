import { doc, runCases, type Case } from './cases-helper.js';

const vs = (spec: string) => doc('VirtualService', spec);
const at = (line: number, rest: string) => `test.yaml:${line}: VirtualService default/x: ${rest}`;
/** hosts on line 6, `http:` on 7, the first route's first key on 8. */
const http = (route: string) => vs(`  hosts: [reviews]\n  http:\n${route}`);

const cases: Case[] = [
  {
    name: 'negative weight',
    yaml: http(`  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v2}
      weight: -1
`),
    want: [at(12, 'spec.http[0].route[1].weight: must be >= 0')],
  },
  {
    name: 'total weight zero',
    yaml: http(`  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
`),
    want: [at(8, 'spec.http[0].route: total weight of destinations must be > 0')],
  },
  { name: 'no http, tcp or tls', yaml: vs('  hosts: [reviews]\n'), want: [at(5, 'spec: at least one of http, tcp or tls routes is required')] },
  // no hosts: a delegate VirtualService (Istio's rules for delegates)
  { name: 'delegate without hosts', yaml: vs('  http:\n  - route:\n    - destination: {host: reviews}\n'), want: [] },
  {
    name: 'delegate with gateways, tcp routes and a delegate of its own',
    yaml: vs('  gateways: [gw]\n  http:\n  - delegate: {name: other}\n  tcp:\n  - route:\n    - destination: {host: reviews}\n'),
    want: [
      at(6, 'spec.gateways: delegate virtual service must have no gateways specified'),
      at(8, 'spec.http[0].delegate: delegate virtual service must not have delegate'),
      at(9, 'spec.tcp: delegate virtual service must have no tcp route specified'),
    ],
  },
  {
    name: 'duplicate hosts',
    yaml: vs('  hosts: [reviews, ratings, reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n'),
    want: [at(6, 'spec.hosts[2]: duplicate host "reviews"')],
  },
  {
    name: 'wildcard host bound to the mesh',
    yaml: vs('  hosts:\n  - "*"\n  http:\n  - route:\n    - destination: {host: reviews}\n'),
    want: [at(7, 'spec.hosts[0]: wildcard host "*" is not allowed for virtual services bound to the mesh')],
  },
  {
    name: 'wildcard in the middle of a host',
    yaml: vs('  hosts:\n  - reviews\n  - a.*.com\n  http:\n  - route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.hosts[1]: invalid host "a.*.com": a wildcard is only allowed as the leftmost label ("*.example.com")')],
  },
  {
    name: 'route and redirect',
    yaml: http('  - route:\n    - destination: {host: reviews}\n    redirect: {uri: /x}\n'),
    want: [at(8, 'spec.http[0]: route and redirect are mutually exclusive')],
  },
  {
    name: 'route and directResponse',
    yaml: http('  - route:\n    - destination: {host: reviews}\n    directResponse: {status: 503}\n'),
    want: [at(8, 'spec.http[0]: route and directResponse are mutually exclusive')],
  },
  {
    name: 'redirect and directResponse',
    yaml: http('  - name: second\n    redirect: {uri: /x}\n    directResponse: {status: 503}\n'),
    want: [at(8, 'spec.http[0]: redirect and directResponse are mutually exclusive')],
  },
  {
    name: 'no route, redirect or directResponse',
    yaml: http('  - match:\n    - uri: {prefix: /}\n'),
    want: [at(8, 'spec.http[0]: one of route, redirect, directResponse or delegate is required')],
  },
  {
    name: 'empty route list',
    yaml: http('  - route: []\n'),
    want: [at(8, 'spec.http[0].route: at least one destination is required')],
  },
  {
    name: 'destination host missing',
    yaml: http('  - route:\n    - destination:\n        subset: v1\n'),
    want: [at(9, 'spec.http[0].route[0].destination.host: is required')],
  },
  {
    name: 'destination host wildcard',
    yaml: http('  - route:\n    - destination:\n        host: "*"\n'),
    want: [at(10, 'spec.http[0].route[0].destination.host: destination host must not be "*"')],
  },
  {
    name: 'destination port out of range',
    yaml: http('  - route:\n    - destination:\n        host: reviews\n        port: {number: 70000}\n'),
    want: [at(11, 'spec.http[0].route[0].destination.port.number: must be between 1 and 65535')],
  },
  {
    name: 'weight as a string',
    yaml: http('  - route:\n    - destination: {host: reviews}\n      weight: "50"\n'),
    want: [at(10, 'spec.http[0].route[0].weight: must be an integer, got string "50"')],
  },
  {
    name: 'fault without abort and delay',
    yaml: http('  - fault: {}\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.http[0].fault: must have an abort or a delay')],
  },
  {
    name: 'abort status above 599',
    yaml: http('  - fault:\n      abort:\n        httpStatus: 700\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].fault.abort.httpStatus: must be between 200 and 599')],
  },
  {
    name: 'abort status below 200',
    yaml: http('  - fault:\n      abort:\n        httpStatus: 100\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].fault.abort.httpStatus: must be between 200 and 599')],
  },
  {
    name: 'abort without a status',
    yaml: http('  - fault:\n      abort:\n        percentage: {value: 10}\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(9, 'spec.http[0].fault.abort: must set httpStatus, grpcStatus or http2Error')],
  },
  {
    name: 'delay percentage above 100',
    yaml: http('  - fault:\n      delay:\n        fixedDelay: 5s\n        percentage:\n          value: 150\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(12, 'spec.http[0].fault.delay.percentage.value: must be between 0 and 100')],
  },
  {
    name: 'abort percentage negative',
    yaml: http('  - fault:\n      abort:\n        httpStatus: 503\n        percentage:\n          value: -1\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(12, 'spec.http[0].fault.abort.percentage.value: must be between 0 and 100')],
  },
  {
    name: 'deprecated delay percent above 100',
    yaml: http('  - fault:\n      delay:\n        fixedDelay: 5s\n        percent: 101\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(11, 'spec.http[0].fault.delay.percent: must be between 0 and 100')],
  },
  {
    name: 'delay without fixedDelay',
    yaml: http('  - fault:\n      delay:\n        percent: 10\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(9, 'spec.http[0].fault.delay: fixedDelay is required')],
  },
  {
    name: 'snake_case field gets a hint',
    yaml: http('  - fault:\n      delay:\n        fixed_delay: 5s\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(9, 'spec.http[0].fault.delay: fixedDelay is required'), at(10, 'spec.http[0].fault.delay.fixed_delay: unknown field (did you mean "fixedDelay"?)')],
  },
  {
    name: 'negative retry attempts',
    yaml: http('  - retries:\n      attempts: -1\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(9, 'spec.http[0].retries.attempts: must be >= 0')],
  },
  {
    name: 'unknown retryOn condition',
    yaml: http('  - retries:\n      attempts: 3\n      retryOn: 5xx,connect-failure,sometimes\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].retries.retryOn: unknown retry condition "sometimes"')],
  },
  {
    name: 'perTryTimeout below 1ms',
    yaml: http('  - retries:\n      attempts: 3\n      perTryTimeout: 500us\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].retries.perTryTimeout: must be >= 1ms')],
  },
  {
    name: 'redirect code not 3xx',
    yaml: http('  - redirect:\n      uri: /new\n      redirectCode: 200\n'),
    want: [at(10, 'spec.http[0].redirect.redirectCode: must be a 3xx redirect code')],
  },
  {
    name: 'redirect with nothing to redirect to',
    yaml: http('  - redirect:\n      redirectCode: 301\n'),
    want: [at(8, 'spec.http[0].redirect: must set at least one of uri, prefixRewrite, authority, scheme, port or derivePort')],
  },
  {
    name: 'redirect and rewrite',
    yaml: http('  - redirect: {uri: /a}\n    rewrite: {uri: /b}\n'),
    want: [at(8, 'spec.http[0]: redirect and rewrite are mutually exclusive')],
  },
  {
    name: 'directResponse status out of range',
    yaml: http('  - directResponse:\n      status: 99\n'),
    want: [at(9, 'spec.http[0].directResponse.status: must be between 200 and 599')],
  },
  {
    name: 'regex that does not compile',
    yaml: http('  - match:\n    - uri:\n        regex: "/api/(v1"\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].match[0].uri.regex: invalid regex (RE2 syntax): missing closing ): `/api/(v1`')],
  },
  {
    name: 'regex lookahead (RE2 has none)',
    yaml: http('  - match:\n    - uri:\n        regex: "/(?!admin).*"\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].match[0].uri.regex: invalid regex (RE2 syntax): lookaround is not supported')],
  },
  {
    name: 'regex backreference',
    yaml: http("  - match:\n    - headers:\n        x-id:\n          regex: '(a)\\1'\n    route:\n    - destination: {host: reviews}\n"),
    want: [at(11, 'spec.http[0].match[0].headers.x-id.regex: invalid regex (RE2 syntax): backreferences are not supported')],
  },
  {
    name: 'regex valid in JavaScript, not in RE2 (possessive quantifier)',
    yaml: http('  - match:\n    - uri:\n        regex: "/a++"\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].match[0].uri.regex: invalid regex (RE2 syntax): invalid nested repetition operator: `++`')],
  },
  {
    name: 'uriRegexRewrite naming a group the match does not have',
    yaml: http('  - match:\n    - uri: {prefix: /}\n    rewrite:\n      uriRegexRewrite: {match: "^/v1/(.*)", rewrite: "/v2/\\\\2"}\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(11, 'spec.http[0].rewrite.uriRegexRewrite.rewrite: substitution "/v2/\\\\2" refers to group \\2, the regex has 1')],
  },
  {
    name: 'header match name not lower-case',
    yaml: http('  - match:\n    - headers:\n        End-User:\n          exact: jason\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(10, 'spec.http[0].match[0].headers.End-User: header name must be lower-case')],
  },
  {
    name: 'string match with two kinds',
    yaml: http('  - match:\n    - uri: {exact: /a, prefix: /b}\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(9, 'spec.http[0].match[0].uri: exact and prefix are mutually exclusive')],
  },
  {
    name: 'match port zero',
    yaml: http('  - match:\n    - port: 0\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(9, 'spec.http[0].match[0].port: must be between 1 and 65535')],
  },
  {
    name: 'timeout not a Go duration',
    yaml: http('  - timeout: 10x\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.http[0].timeout: invalid duration "10x" (expected Go syntax such as 1s, 100ms, 1m30s)')],
  },
  {
    name: 'timeout zero',
    yaml: http('  - timeout: 0s\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.http[0].timeout: must be >= 1ms')],
  },
  {
    name: 'timeout finer than a millisecond',
    yaml: http('  - timeout: 1.0001s\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.http[0].timeout: only millisecond precision is supported')],
  },
  {
    name: 'timeout as a number',
    yaml: http('  - timeout: 5\n    route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.http[0].timeout: must be a duration string such as "1s", got integer 5')],
  },
  {
    name: 'unknown field in a route',
    yaml: http('  - route:\n    - destination: {host: reviews}\n    retry: {attempts: 3}\n'),
    want: [at(10, 'spec.http[0].retry: unknown field')],
  },
  {
    name: 'hosts as a string',
    yaml: vs('  hosts: reviews\n  http:\n  - route:\n    - destination: {host: reviews}\n'),
    want: [at(6, 'spec.hosts: must be a list, got string "reviews"')],
  },
  {
    name: 'mirror percentage above 100',
    yaml: http('  - route:\n    - destination: {host: reviews}\n    mirror: {host: reviews-shadow}\n    mirrorPercentage:\n      value: 200\n'),
    want: [at(12, 'spec.http[0].mirrorPercentage.value: must be between 0 and 100')],
  },
  {
    name: 'cors maxAge invalid',
    yaml: http('  - route:\n    - destination: {host: reviews}\n    corsPolicy:\n      maxAge: forever\n'),
    want: [at(11, 'spec.http[0].corsPolicy.maxAge: invalid duration "forever" (expected Go syntax such as 1s, 100ms, 1m30s)')],
  },
  {
    name: 'tcp route without destinations',
    yaml: vs('  hosts: [mysql]\n  tcp:\n  - match:\n    - port: 3306\n'),
    want: [at(8, 'spec.tcp[0].route: at least one destination is required')],
  },
  {
    name: 'tls route without match',
    yaml: vs('  hosts: [example.com]\n  tls:\n  - route:\n    - destination: {host: example.com}\n'),
    want: [at(8, 'spec.tls[0].match: is required')],
  },
  {
    name: 'tls SNI host outside the virtual service hosts',
    yaml: vs('  hosts: [example.com]\n  tls:\n  - match:\n    - sniHosts: [other.com]\n    route:\n    - destination: {host: example.com}\n'),
    want: [at(9, 'spec.tls[0].match[0].sniHosts[0]: SNI host "other.com" does not match any host of the virtual service')],
  },
  {
    name: 'invalid gateway reference',
    yaml: vs('  hosts: [reviews]\n  gateways:\n  - Bad_Gateway\n  http:\n  - route:\n    - destination: {host: reviews}\n'),
    want: [at(8, 'spec.gateways[0]: invalid gateway name "Bad_Gateway" (expected <name> or <namespace>/<name>)')],
  },
];

runCases(cases);
