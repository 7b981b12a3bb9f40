/**
 * Proto3 JSON spellings in config written by hand (EnvoyFilter values, as Istio reads them with
 * jsonpb) turned into Clew's object form (codec.ts): a Duration written `"10s"` becomes
 * `{seconds: 10}`, a wrapper written as its bare value (`true`, `5`) becomes `{value}`. Walks the
 * message's proto fields (protobufjs reflection); fields the proto does not have and `Any`s are
 * left as they are (the encode check refuses what does not fit).
 */
import type protobuf from 'protobufjs/light.js';
import { durationFromString } from './codec.js';
import { lookupType } from './proto-root.js';
import { TYPE_PREFIX } from './type-urls.js';

const WRAPPERS = new Set([
  'google.protobuf.BoolValue', 'google.protobuf.UInt32Value', 'google.protobuf.UInt64Value', 'google.protobuf.Int32Value',
  'google.protobuf.Int64Value', 'google.protobuf.DoubleValue', 'google.protobuf.FloatValue', 'google.protobuf.StringValue',
]);

function fullName(t: protobuf.Type): string {
  return t.fullName.replace(/^\./, '');
}

function convertValue(field: protobuf.Field, v: unknown): unknown {
  const rt = field.resolvedType;
  if (rt === null || !('fields' in rt)) return v;
  const t = rt as protobuf.Type;
  const name = fullName(t);
  if (name === 'google.protobuf.Duration' && typeof v === 'string') return durationFromString(v);
  if (WRAPPERS.has(name) && (typeof v !== 'object' || v === null)) return { value: v };
  if (name === 'google.protobuf.Any' || name === 'google.protobuf.Struct' || name === 'google.protobuf.Value') return v;
  if (v && typeof v === 'object' && !Array.isArray(v)) return convertMessage(t, v as Record<string, unknown>);
  return v;
}

function convertMessage(t: protobuf.Type, o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const f = t.fields[k];
    if (f === undefined) {
      out[k] = v;
      continue;
    }
    f.resolve();
    if (f.map) {
      out[k] = v && typeof v === 'object' ? Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([mk, mv]) => [mk, convertValue(f, mv)])) : v;
    } else if (f.repeated && Array.isArray(v)) out[k] = v.map((x) => convertValue(f, x));
    else out[k] = convertValue(f, v);
  }
  return out;
}

/** `value` (a message of `typeUrl`, or a type name) with proto3 JSON spellings in object form. */
export function fromProtoJson<T extends Record<string, unknown>>(typeUrl: string, value: T): T {
  const name = typeUrl.startsWith(TYPE_PREFIX) ? typeUrl.slice(TYPE_PREFIX.length) : typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return convertMessage(lookupType(name), value) as T;
}
