/** Small helpers shared by the builders: names, config sources, durations, percentages. */
import { durationFromString, type ProtoDuration } from '../../xds/codec.js';
import type { Percent } from '../../config/types.js';
import type { MeshService, ServicePortInfo } from '../../registry/types.js';
import type { ProxyIdentity } from '../../xds/node-metadata.js';
import type { PushContext } from '../push-context.js';

export const ADS_CONFIG_SOURCE = Object.freeze({ ads: {}, resource_api_version: 'V3' });

export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
export const DEFAULT_CONNECT_TIMEOUT: ProtoDuration = Object.freeze({ seconds: 10 });
export const MAX_UINT32 = 4294967295;

export function adsConfigSource(): { ads: Record<string, never>; resource_api_version: string } {
  return { ads: {}, resource_api_version: 'V3' };
}

export function outboundClusterName(port: number, subset: string | undefined, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

export interface ParsedClusterName {
  direction: 'outbound' | 'inbound';
  port: number;
  subset: string;
  host: string;
}

export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || (parts[0] !== 'outbound' && parts[0] !== 'inbound')) return undefined;
  const port = Number(parts[1]);
  if (!Number.isInteger(port)) return undefined;
  return { direction: parts[0], port, subset: parts[2], host: parts[3] };
}

/** Istio duration string → proto Duration; undefined stays undefined. */
export function duration(text: string | undefined): ProtoDuration | undefined {
  return text === undefined ? undefined : durationFromString(text);
}

/** Istio Percent (double 0-100) → FractionalPercent per million, as Istio converts it. */
export function fractionFromPercent(p: Percent | undefined): { numerator: number; denominator: string } {
  return { numerator: Math.round((p?.value ?? 0) * 10000), denominator: 'MILLION' };
}

/** Deprecated integer percentage → FractionalPercent per hundred. */
export function fractionFromInteger(p: number | undefined): { numerator: number; denominator: string } {
  return { numerator: p ?? 0, denominator: 'HUNDRED' };
}

/** Removes keys whose value is undefined, so resources survive an encode/decode round trip unchanged. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export function socketAddress(address: string, port: number): { socket_address: { address: string; port_value: number } } {
  return { socket_address: { address, port_value: port } };
}

/** The service port a destination without an explicit port means: the only one, else `fallback` if the service has it. */
export function pickServicePort(svc: MeshService | undefined, fallback?: number): number | undefined {
  if (!svc || svc.ports.length === 0) return fallback;
  if (svc.ports.length === 1) return svc.ports[0].port;
  if (fallback !== undefined && svc.ports.some((p) => p.port === fallback)) return fallback;
  return svc.ports[0].port;
}

export function findPort(svc: MeshService, port: number): ServicePortInfo | undefined {
  return svc.ports.find((p) => p.port === port);
}

/** Splits an `<address>:<port>` string (IPv6 in brackets allowed). */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(text);
  if (!m) return undefined;
  return { host: m[1], port: Number(m[2]) };
}

/** Envoy Locality from Istio's `region/zone/subzone` string. */
export function localityFromString(l: string | undefined): { region?: string; zone?: string; sub_zone?: string } {
  if (!l) return {};
  const [region, zone, subZone] = l.split('/');
  return compact({ region: region || undefined, zone: zone || undefined, sub_zone: subZone || undefined });
}

/**
 * Where traffic to unknown destinations goes: the proxy's Sidecar outboundTrafficPolicy, else
 * MeshConfig's, else ALLOW_ANY (PassthroughCluster); REGISTRY_ONLY sends it to BlackHoleCluster.
 */
export function outboundTrafficMode(pc: PushContext, proxy: ProxyIdentity): 'REGISTRY_ONLY' | 'ALLOW_ANY' {
  return pc.sidecarForProxy(proxy)?.spec.outboundTrafficPolicy?.mode ?? pc.meshConfig.outboundTrafficPolicy?.mode ?? 'ALLOW_ANY';
}
