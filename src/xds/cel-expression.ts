/**
 * CEL expressions over Envoy's attributes (request.*, response.*, connection.*, ...): the
 * language of Istio's Telemetry `accessLogging[].filter.expression`, which reaches a proxy as the
 * access-log extension filter `envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter`.
 * One compile step for both sides: the config validator rejects what does not compile, the proxy
 * compiles once per config and evaluates per finished request.
 *
 * The CEL implementation is @marcbachmann/cel-js (see ARCHITECTURE.md's dependency table).
 */
import { Environment } from '@marcbachmann/cel-js';

/**
 * Envoy's top-level attribute names. Each is a map whose keys are looked up at evaluation time:
 * a key that the request does not have is CEL's "no such key" error, which makes a filter false.
 */
export const ENVOY_CEL_ROOTS = [
  'request', 'response', 'connection', 'upstream', 'source', 'destination', 'xds', 'metadata', 'filter_state',
  'upstream_filter_state',
] as const;

export type EnvoyCelRoot = (typeof ENVOY_CEL_ROOTS)[number];

/** What a compiled expression is evaluated against: one map per top-level attribute it names. */
export type CelActivation = Partial<Record<EnvoyCelRoot, Record<string, unknown>>>;

/** A compiled expression: its value, or throws CEL's evaluation error. */
export type CelProgram = (activation: CelActivation) => unknown;

// Parse-time bounds: an expression is config, but one that parses into a huge tree would cost on
// every request it is evaluated for.
const env = new Environment({
  homogeneousAggregateLiterals: false,
  limits: { maxAstNodes: 2_000, maxDepth: 64, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 16 },
});
for (const root of ENVOY_CEL_ROOTS) env.registerVariable(root, 'map<string, dyn>');

/** Max expression length, in characters. */
export const MAX_CEL_EXPRESSION_LENGTH = 4096;

export type CelCompileResult = { program: CelProgram; roots: EnvoyCelRoot[] } | { error: string };

const ROOT_SET: ReadonlySet<string> = new Set(ENVOY_CEL_ROOTS);

/**
 * The top-level attributes an expression names (identifier nodes of the AST; a macro variable
 * with a root's name only over-approximates): the proxy builds only these per request.
 */
function rootsOf(ast: unknown): EnvoyCelRoot[] {
  const found = new Set<EnvoyCelRoot>();
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) {
      for (const x of n) walk(x);
      return;
    }
    if (!n || typeof n !== 'object') return;
    const node = n as { op?: unknown; args?: unknown };
    if (node.op === 'id' && typeof node.args === 'string') {
      if (ROOT_SET.has(node.args)) found.add(node.args as EnvoyCelRoot);
      return;
    }
    walk(node.args);
  };
  walk(ast);
  return [...found];
}

/** The first line of a cel-js error (the rest is a source excerpt with a caret). */
function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0]!.trim();
}

/**
 * Parses and type-checks a CEL expression over Envoy's attributes. Errors: syntax, an unknown
 * top-level attribute or function, and with `result: 'bool'` (filters) a result that cannot be a
 * bool (Envoy logs only when the value is `true`: a filter whose value is never a bool would log
 * nothing). `result: 'any'` is for values (stats tag overrides).
 */
export function compileCelExpression(expression: string, result: 'bool' | 'any' = 'bool'): CelCompileResult {
  if (typeof expression !== 'string' || expression.trim() === '') return { error: 'empty CEL expression' };
  if (expression.length > MAX_CEL_EXPRESSION_LENGTH) {
    return { error: `CEL expression longer than ${MAX_CEL_EXPRESSION_LENGTH} characters` };
  }
  let parsed;
  try {
    parsed = env.parse(expression);
  } catch (e) {
    return { error: `CEL syntax error: ${firstLine(e)}` };
  }
  const checked = parsed.check();
  if (!checked.valid) return { error: `CEL type error: ${firstLine(checked.error)}` };
  if (result === 'bool' && checked.type !== 'bool' && checked.type !== 'dyn') {
    return { error: `CEL expression has type ${checked.type ?? 'unknown'}, a filter needs bool` };
  }
  return { program: parsed as CelProgram, roots: rootsOf(parsed.ast) };
}

/** The error of an expression that does not compile, else undefined (for validators). */
export function celExpressionError(expression: string): string | undefined {
  const r = compileCelExpression(expression);
  return 'error' in r ? r.error : undefined;
}
