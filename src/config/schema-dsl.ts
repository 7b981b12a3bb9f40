/**
 * A compact declarative schema language for Istio specs: types, required fields, unknown
 * fields, enums, ranges, mutually exclusive fields and value formats. Each kind's schema is a
 * tree of these nodes (see schema-*.ts); `checkSchema` walks a value against it.
 */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { checkDuration } from './value-duration.js';
import { checkRegex } from './value-regex.js';
import {
  HEADER_NAME_RULE, HEADER_VALUE_RULE, isHeaderName, isHeaderValue, isPathValue, PATH_VALUE_RULE,
} from '../xds/field-values.js';

type Check = (v: string) => string | undefined;

/**
 * What Clew does with a valid field it does not implement (absent = implemented):
 * - `noEffect`: accepted with a warning naming the field (tuning, observability: nothing gets
 *   less safe or goes elsewhere when it is ignored);
 * - `refused`: an error, because ignoring it would change security, routing or policy behind the
 *   user's back (`when` limits the refusal to values that would matter, e.g. `true`);
 * - `ignored`: a Kubernetes field the mesh does not use, in Istio either: no message.
 * The reason is written next to each field (`note`) and lands in docs/field-coverage.md.
 */
export interface FieldEffect {
  status: 'noEffect' | 'refused' | 'ignored';
  note: string;
  when?: (v: unknown) => boolean;
}

/** Properties every schema node may carry. */
export interface SchemaMeta {
  effect?: FieldEffect;
  /** a deprecated spelling Istio still takes: loading renames it to this field (with a warning) */
  renamedTo?: string;
}

export type Schema = SchemaMeta & (
  | { t: 'string'; enum?: readonly string[]; check?: Check; code?: string }
  | { t: 'int'; min?: number; max?: number; rangeMessage?: string }
  | { t: 'number'; min?: number; max?: number }
  | { t: 'bool' }
  | { t: 'duration'; minMs: number }
  | { t: 'intOrString'; min?: number; max?: number }
  | { t: 'object'; fields: Record<string, Schema>; required: readonly string[]; exclusive: readonly (readonly string[])[] }
  | { t: 'list'; items: Schema }
  | { t: 'map'; values: Schema; keyCheck?: Check }
  | { t: 'any' });

export const str = (opts: { enum?: readonly string[]; check?: Check; code?: string } = {}): Schema => ({ t: 'string', ...opts });
export const enm = (...values: string[]): Schema => ({ t: 'string', enum: values });
export const int = (min?: number, max?: number, rangeMessage?: string): Schema => ({ t: 'int', min, max, rangeMessage });
export const num = (min?: number, max?: number): Schema => ({ t: 'number', min, max });
export const bool = (): Schema => ({ t: 'bool' });
/** Durations are >= 1ms by default (Istio's rule); pass 0 where zero is meaningful. */
export const dur = (minMs = 1): Schema => ({ t: 'duration', minMs });
export const regex = (): Schema => ({ t: 'string', check: checkRegex, code: Codes.regex });
/** A value the proxy writes into a header (xds/field-values.ts: the proxy's own predicate). */
export const headerValue = (): Schema => ({ t: 'string', check: (v) => (isHeaderValue(v) ? undefined : HEADER_VALUE_RULE), code: Codes.header });
/** A path, host or scheme the proxy writes into a request line or Location. */
export const pathValue = (): Schema => ({ t: 'string', check: (v) => (isPathValue(v) ? undefined : PATH_VALUE_RULE), code: Codes.header });
/** A header name the proxy can add. */
export const checkHeaderName = (k: string): string | undefined =>
  k === '' ? 'header name must not be empty' : isHeaderName(k) ? undefined : `invalid header name ${JSON.stringify(k)}: ${HEADER_NAME_RULE}`;
export const intOrStr = (min?: number, max?: number): Schema => ({ t: 'intOrString', min, max });
export const list = (items: Schema): Schema => ({ t: 'list', items });
export const map = (values: Schema, keyCheck?: Check): Schema => ({ t: 'map', values, keyCheck });
export const any = (): Schema => ({ t: 'any' });
export const strList = (): Schema => list(str());
export const strMap = (): Schema => map(str());

/** A valid field Clew does not implement yet: accepted with a warning (see FieldEffect). */
export const noEffect = (s: Schema, note: string): Schema => ({ ...s, effect: { status: 'noEffect', note } });
/** A valid field Clew does not implement and may not ignore: an error (see FieldEffect). */
export const refused = (s: Schema, note: string, when?: (v: unknown) => boolean): Schema => ({ ...s, effect: { status: 'refused', note, when } });
/** A Kubernetes field the mesh does not read (neither does Istio): accepted silently. */
export const ignored = (s: Schema, note: string): Schema => ({ ...s, effect: { status: 'ignored', note } });
/** A deprecated spelling of `to` (loading renames it). */
export const renamed = (s: Schema, to: string): Schema => ({ ...s, renamedTo: to });

export function obj(
  fields: Record<string, Schema>,
  opts: { required?: readonly string[]; exclusive?: readonly (readonly string[])[] } = {},
): Schema {
  return { t: 'object', fields, required: opts.required ?? [], exclusive: opts.exclusive ?? [] };
}

export type Report = (path: string, message: string, code: string, severity?: 'error' | 'warning') => void;

/** The message for a present field with an effect annotation, or undefined. */
export function effectMessage(effect: FieldEffect, value: unknown): { severity: 'error' | 'warning'; message: string; code: string } | undefined {
  if (effect.status === 'noEffect') {
    return { severity: 'warning', message: `has no effect: Clew does not implement this field yet (${effect.note})`, code: Codes.noEffect };
  }
  if (effect.status === 'refused' && (effect.when === undefined || effect.when(value))) {
    return { severity: 'error', message: `is not implemented by Clew and cannot be ignored safely (${effect.note}); remove it or use Istio`, code: Codes.notImplemented };
  }
  return undefined;
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'mapping';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function describe(v: unknown): string {
  const t = typeName(v);
  return t === 'string' ? `string ${JSON.stringify(v)}` : t === 'integer' || t === 'number' ? `${t} ${v}` : t;
}

function rangeError(v: number, min?: number, max?: number): string | undefined {
  if ((min === undefined || v >= min) && (max === undefined || v <= max)) return undefined;
  if (min !== undefined && max !== undefined) return `must be between ${min} and ${max}`;
  return min !== undefined ? `must be >= ${min}` : `must be <= ${max}`;
}

/** Closest field name, to suggest a fix for snake_case or a typo. */
function suggest(key: string, fields: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  return fields.find((f) => norm(f) === norm(key));
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `inRefused`: under a refused field, whose error already covers everything inside it. */
export function checkSchema(value: unknown, schema: Schema, path: string, report: Report, inRefused = false): void {
  switch (schema.t) {
    case 'any':
      return;
    case 'string': {
      if (typeof value !== 'string') {
        // `version: on` is `true` to Kubernetes' YAML 1.1 reader, as it is to Clew's
        const hint = typeof value === 'boolean' ? ' (Kubernetes reads unquoted true/false, yes/no, on/off, y/n as booleans: quote the value)' : '';
        return report(path, `must be a string, got ${describe(value)}${hint}`, Codes.type);
      }
      if (schema.enum) {
        if (!schema.enum.includes(value)) report(path, `must be one of ${schema.enum.join(', ')}; got ${JSON.stringify(value)}`, Codes.enum);
      } else if (schema.check) {
        const err = schema.check(value);
        if (err) report(path, err, schema.code ?? Codes.format);
      }
      return;
    }
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || (schema.t === 'int' && !Number.isInteger(value))) {
        return report(path, `must be ${schema.t === 'int' ? 'an integer' : 'a number'}, got ${describe(value)}`, Codes.type);
      }
      const err = rangeError(value, schema.min, schema.max);
      if (err) report(path, (schema.t === 'int' && schema.rangeMessage) || err, Codes.range);
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') report(path, `must be a boolean, got ${describe(value)}`, Codes.type);
      return;
    case 'duration': {
      if (typeof value !== 'string') return report(path, `must be a duration string such as "1s", got ${describe(value)}`, Codes.type);
      const err = checkDuration(value, schema.minMs);
      if (err) report(path, err, Codes.duration);
      return;
    }
    case 'intOrString': {
      if (typeof value === 'string') return;
      if (typeof value !== 'number' || !Number.isInteger(value)) return report(path, `must be an integer or a string, got ${describe(value)}`, Codes.type);
      const err = rangeError(value, schema.min, schema.max);
      if (err) report(path, err, Codes.range);
      return;
    }
    case 'list':
      if (!Array.isArray(value)) return report(path, `must be a list, got ${describe(value)}`, Codes.type);
      value.forEach((item, i) => {
        const p = joinIndex(path, i);
        if (item === null || item === undefined) report(p, 'must not be empty', Codes.type);
        else checkSchema(item, schema.items, p, report, inRefused);
      });
      return;
    case 'map':
      if (!isPlainObject(value)) return report(path, `must be a mapping, got ${describe(value)}`, Codes.type);
      for (const [k, v] of Object.entries(value)) {
        const p = joinKey(path, k);
        const keyErr = schema.keyCheck?.(k);
        if (keyErr) report(p, keyErr, Codes.format);
        if (v !== null && v !== undefined) checkSchema(v, schema.values, p, report, inRefused);
        else if (schema.values.t !== 'object') report(p, 'must not be empty', Codes.type);
      }
      return;
    case 'object': {
      if (!isPlainObject(value)) return report(path, `must be a mapping, got ${describe(value)}`, Codes.type);
      const names = Object.keys(schema.fields);
      for (const [k, v] of Object.entries(value)) {
        const p = joinKey(path, k);
        const fieldSchema = schema.fields[k];
        if (!fieldSchema) {
          const hint = suggest(k, names);
          report(p, hint ? `unknown field (did you mean "${hint}"?)` : 'unknown field', Codes.unknownField);
          continue;
        }
        // null is how YAML writes "absent" (`hosts:` with nothing after it).
        if (v === null || v === undefined) continue;
        const m = fieldSchema.effect && !inRefused ? effectMessage(fieldSchema.effect, v) : undefined;
        if (m) report(p, m.message, m.code, m.severity);
        checkSchema(v, fieldSchema, p, report, inRefused || m?.severity === 'error');
      }
      for (const r of schema.required) {
        if (value[r] === null || value[r] === undefined) report(joinKey(path, r), 'is required', Codes.required);
      }
      for (const group of schema.exclusive) {
        const present = group.filter((g) => value[g] !== null && value[g] !== undefined);
        if (present.length > 1) {
          const names = present.length === 2 ? `${present[0]} and ${present[1]}` : `${present.slice(0, -1).join(', ')} and ${present.at(-1)}`;
          report(path, `${names} are mutually exclusive`, Codes.exclusive);
        }
      }
      return;
    }
  }
}
