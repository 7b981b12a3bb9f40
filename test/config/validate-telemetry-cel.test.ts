/**
 * Telemetry accessLogging filter.expression is CEL that the proxy compiles (Envoy's CEL access-log
 * filter): an expression that does not compile is rejected at validation, naming the field and
 * CEL's error, instead of reaching a proxy that would NACK it.
 */
import { doc, runCases, type Case } from './cases-helper.js';

const at = (line: number, rest: string) => `test.yaml:${line}: Telemetry default/x: ${rest}`;
const filter = (expression: string) => doc('Telemetry', `  accessLogging:\n  - providers: [{name: envoy}]\n    filter:\n      expression: ${JSON.stringify(expression)}\n`);

const cases: Case[] = [
  { name: 'valid CEL expressions have no messages', yaml: filter("response.code >= 400 || request.headers['x-debug'] == 'on'"), want: [] },
  { name: 'connection.mtls is a valid filter', yaml: filter('connection.mtls'), want: [] },
  {
    name: 'a syntax error names the field and the CEL error',
    yaml: filter('response.code >='),
    want: [at(9, 'spec.accessLogging[0].filter.expression: CEL syntax error: Unexpected token: EOF in "response.code >="')],
  },
  {
    name: 'an unknown attribute root',
    yaml: filter('respose.code >= 400'),
    want: [at(9, 'spec.accessLogging[0].filter.expression: CEL type error: Unknown variable: respose in "respose.code >= 400"')],
  },
  {
    name: 'an unknown function',
    yaml: filter("lower(request.path) == '/x'"),
    want: [at(9, "spec.accessLogging[0].filter.expression: CEL type error: found no matching overload for 'lower(dyn)' in \"lower(request.path) == '/x'\"")],
  },
  {
    name: 'a value that is not a bool never logs',
    yaml: filter("request.path + 'x'"),
    want: [at(9, 'spec.accessLogging[0].filter.expression: CEL expression has type string, a filter needs bool in "request.path + \'x\'"')],
  },
];

runCases(cases);
