/**
 * google.protobuf.Struct <-> plain JSON, in the shared Root's object form. protobufjs serves
 * google/protobuf/struct.proto from its built-in copy, whose Value field names are camelCase
 * (stringValue) whatever keepCase says, so both spellings are read and the Root's own is written.
 * Used for node metadata (both planes) and peer metadata exchange.
 */
import { lookupType } from './proto-root.js';

function pick(v: any, snake: string, camel: string): { ok: boolean; value: any } {
  if (snake in v) return { ok: true, value: v[snake] };
  if (camel in v) return { ok: true, value: v[camel] };
  return { ok: false, value: undefined };
}

function valueToJson(v: any): unknown {
  if (v == null) return null;
  let p = pick(v, 'string_value', 'stringValue');
  if (p.ok) return p.value;
  if ((p = pick(v, 'number_value', 'numberValue')).ok) return p.value;
  if ((p = pick(v, 'bool_value', 'boolValue')).ok) return p.value;
  if ((p = pick(v, 'struct_value', 'structValue')).ok) return structToJson(p.value);
  if ((p = pick(v, 'list_value', 'listValue')).ok) return (p.value?.values ?? []).map(valueToJson);
  return null;
}

/**
 * A `__proto__` key would set the object's prototype instead of a field (and protobufjs's map
 * code cannot carry one either): such keys are skipped both ways (found by the Struct fuzz target).
 */
const PROTO_KEY = '__proto__';

export function structToJson(s: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s?.fields ?? {}) as Record<string, unknown>)) if (k !== PROTO_KEY) out[k] = valueToJson(v);
  return out;
}

let valueKeys: Record<'null' | 'number' | 'string' | 'bool' | 'struct' | 'list', string> | undefined;

function structValueKeys(): NonNullable<typeof valueKeys> {
  if (!valueKeys) {
    const camel = 'stringValue' in lookupType('google.protobuf.Value').fields;
    const k = (snake: string, cam: string): string => (camel ? cam : snake);
    valueKeys = {
      null: k('null_value', 'nullValue'),
      number: k('number_value', 'numberValue'),
      string: k('string_value', 'stringValue'),
      bool: k('bool_value', 'boolValue'),
      struct: k('struct_value', 'structValue'),
      list: k('list_value', 'listValue'),
    };
  }
  return valueKeys;
}

/** Plain JSON -> google.protobuf.Struct in the shared Root's object form (e.g. to send a node). */
export function jsonToStruct(obj: Record<string, unknown>): { fields: Record<string, unknown> } {
  const k = structValueKeys();
  const val = (v: unknown): unknown => {
    if (v === null || v === undefined) return { [k.null]: 'NULL_VALUE' };
    if (typeof v === 'string') return { [k.string]: v };
    if (typeof v === 'number') return { [k.number]: v };
    if (typeof v === 'boolean') return { [k.bool]: v };
    if (Array.isArray(v)) return { [k.list]: { values: v.map(val) } };
    return { [k.struct]: jsonToStruct(v as Record<string, unknown>) };
  };
  const fields: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(obj)) if (key !== PROTO_KEY) fields[key] = val(v);
  return { fields };
}

