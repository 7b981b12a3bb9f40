/**
 * Conversion between Clew's in-memory resource objects and protobuf bytes.
 *
 * In memory, an Envoy resource is a plain object in protobufjs "object" form with the proto's own
 * snake_case field names: Durations are `{ seconds, nanos }`, wrappers are `{ value }`, enums are
 * their string names, and an `Any` is `{ '@type': typeUrl, ...fields }`. Builders produce this
 * form, the ADS server encodes it, the proxy decodes into it.
 */
import { lookupType } from './proto-root.js';
import { TYPE_PREFIX } from './type-urls.js';

export type EnvoyResource = Record<string, any>;

export interface AnyBytes {
  type_url: string;
  value: Uint8Array;
}

export const DECODE_OPTIONS = {
  json: true,
  enums: String,
  longs: Number,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
} as const;

function typeName(typeUrl: string): string {
  return typeUrl.startsWith(TYPE_PREFIX) ? typeUrl.slice(TYPE_PREFIX.length) : typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

/** Encodes one resource of the given type URL; throws if the object does not fit the proto. */
export function encodeResource(typeUrl: string, resource: EnvoyResource): Uint8Array {
  const type = lookupType(typeName(typeUrl));
  const err = type.verify(resource);
  // verify() does not understand '@type' Anys; fromObject is the real check, so only use verify's
  // message for fields it can judge.
  void err;
  return type.encode(type.fromObject(resource)).finish();
}

export function encodeAny(typeUrl: string, resource: EnvoyResource): AnyBytes {
  return { type_url: typeUrl, value: encodeResource(typeUrl, resource) };
}

export function decodeResource(typeUrl: string, bytes: Uint8Array): EnvoyResource {
  const type = lookupType(typeName(typeUrl));
  return type.toObject(type.decode(bytes), DECODE_OPTIONS) as EnvoyResource;
}

// ---------------------------------------------------------------- Durations
export interface ProtoDuration {
  seconds: number;
  nanos?: number;
}

const UNIT_NANOS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const TERM = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Go duration syntax (`1s`, `100ms`, `1m30s`, `1.5h`, `0`), as Istio's YAML writes durations:
 * nanoseconds, or undefined when the text is not a Go duration. The one parser shared by
 * validation, builders and the CLI, so what validates always builds.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < s.length) {
    const start = TERM.lastIndex;
    const m = TERM.exec(s);
    if (!m || m.index !== start) return undefined;
    total += Number(m[1]) * UNIT_NANOS[m[2]];
  }
  return sign * total;
}

/** Go duration text → milliseconds, or undefined when invalid. */
export function parseDurationMs(text: string): number | undefined {
  const ns = parseGoDuration(text);
  return ns === undefined ? undefined : ns / 1e6;
}

export function msToDuration(ms: number): ProtoDuration {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos ? { seconds, nanos } : { seconds };
}

export function durationToMs(d: ProtoDuration | undefined | null): number | undefined {
  if (!d) return undefined;
  return Number(d.seconds ?? 0) * 1000 + Number(d.nanos ?? 0) / 1e6;
}

/** Istio duration string → proto Duration. */
export function durationFromString(text: string): ProtoDuration {
  const ms = parseDurationMs(text);
  if (ms === undefined) throw new Error(`invalid duration ${JSON.stringify(text)}`);
  return msToDuration(ms);
}

/** proto Duration → Envoy's JSON text ("1.500s"). */
export function durationToString(d: ProtoDuration): string {
  const ms = durationToMs(d) ?? 0;
  return `${Number((ms / 1000).toFixed(9))}s`;
}
