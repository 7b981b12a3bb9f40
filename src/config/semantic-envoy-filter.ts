/**
 * EnvoyFilter semantics. Clew implements HTTP_FILTER patches (INSERT_BEFORE, INSERT_AFTER,
 * INSERT_FIRST, REMOVE) matched by context, listener port/name and the HTTP connection manager's
 * sub-filter name, and VIRTUAL_HOST MERGE patches (matched by context, route configuration port
 * and name, virtual host name) whose value sets VirtualHost fields the proxies implement and fits
 * the VirtualHost proto; every other applyTo or operation is refused here, and the match fields Clew
 * does not implement are refused by the schema (schema-envoy-filter.ts), so a patch never
 * silently does nothing. An inserted filter must be one the proxies implement, and a
 * typed_config given by '@type' must fit its proto (checked by encoding it).
 */
import { joinIndex, joinKey } from './field-path.js';
import { Codes } from './messages.js';
import { asObj, asObjList, asStr, has, type Obj } from './semantic-util.js';
import type { Reporter } from './validate-reporter.js';
import { decodeResource, encodeResource } from '../xds/codec.js';
import { fromProtoJson } from '../xds/proto-json.js';
import { PROXY_HTTP_FILTER_TYPES, TYPED_STRUCT_TYPE, XDS_TYPED_STRUCT_TYPE } from '../xds/type-urls.js';

/** a dotted field path under `p` (`match.listener.portName`) */
const at = (p: string, dotted: string): string => dotted.split('.').reduce((acc, k) => joinKey(acc, k), p);

const HCM_NAMES = new Set(['envoy.filters.network.http_connection_manager', 'envoy.http_connection_manager']);
const OPERATIONS = new Set(['INSERT_BEFORE', 'INSERT_AFTER', 'INSERT_FIRST', 'REMOVE']);

function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** why an HTTP filter value is refused, or undefined */
function filterValueError(v: Obj): string | undefined {
  if (typeof v.name !== 'string' || v.name === '') return 'value.name is required';
  for (const k of Object.keys(v)) if (k !== 'name' && k !== 'typed_config' && k !== 'typedConfig') return `value.${k} is not supported (name and typed_config only)`;
  const tc = asObj(v.typed_config ?? v.typedConfig);
  const type = asStr(tc['@type']);
  if (!type) return 'value.typed_config with an @type is required';
  const isStruct = type === TYPED_STRUCT_TYPE || type === XDS_TYPED_STRUCT_TYPE;
  const inner = isStruct ? asStr(tc.type_url ?? tc.typeUrl) : type;
  if (!inner || !PROXY_HTTP_FILTER_TYPES.includes(inner)) {
    return `filter type ${inner ?? '(none)'} is not implemented by Clew's proxies (implemented: ${PROXY_HTTP_FILTER_TYPES.map((t) => t.replace('type.googleapis.com/', '')).join(', ')})`;
  }
  if (isStruct) {
    for (const k of Object.keys(tc)) if (!['@type', 'type_url', 'typeUrl', 'value'].includes(k)) return `value.typed_config.${k} is not a TypedStruct field`;
    if (tc.value !== undefined && (typeof tc.value !== 'object' || Array.isArray(tc.value))) return 'value.typed_config.value must be an object';
    return undefined;
  }
  const { '@type': _t, ...raw } = tc;
  try {
    // proto3 JSON spellings (durations as "10s") as Istio's jsonpb reads them
    const body = fromProtoJson(type, raw);
    const back = decodeResource(type, encodeResource(type, body));
    if (canon(back) !== canon(body)) return `value.typed_config has fields or values ${type.replace('type.googleapis.com/', '')} does not have (write it as proto field names, durations as {seconds}, or use a TypedStruct)`;
  } catch (err) {
    return `value.typed_config does not fit ${type.replace('type.googleapis.com/', '')}: ${(err as Error).message}`;
  }
  return undefined;
}

const VIRTUAL_HOST_TYPE = 'type.googleapis.com/envoy.config.route.v3.VirtualHost';
/** VirtualHost fields a MERGE may set: those the proxies read (others would be ignored there) */
const VHOST_MERGE_FIELDS = new Set([
  'rate_limits', 'request_headers_to_add', 'request_headers_to_remove', 'response_headers_to_add', 'response_headers_to_remove',
  'retry_policy', 'typed_per_filter_config', 'per_request_buffer_limit_bytes',
]);

/** why a VIRTUAL_HOST MERGE value is refused, or undefined */
function virtualHostValueError(v: Obj): string | undefined {
  for (const k of Object.keys(v)) {
    if (!VHOST_MERGE_FIELDS.has(k)) return `value.${k}: merging this VirtualHost field is not implemented by Clew (${[...VHOST_MERGE_FIELDS].join(', ')} are)`;
  }
  try {
    const body = fromProtoJson(VIRTUAL_HOST_TYPE, v);
    const back = decodeResource(VIRTUAL_HOST_TYPE, encodeResource(VIRTUAL_HOST_TYPE, body));
    if (canon(back) !== canon(body)) return 'value has fields or values envoy.config.route.v3.VirtualHost does not have (write it as proto field names, durations as {seconds})';
  } catch (err) {
    return `value does not fit envoy.config.route.v3.VirtualHost: ${(err as Error).message}`;
  }
  return undefined;
}

function validateVirtualHostPatch(cp: Obj, p: string, rep: Reporter): void {
  const m = asObj(cp.match);
  if (has(m, 'listener')) rep.error(at(p, 'match.listener'), 'VIRTUAL_HOST patches match by routeConfiguration, not listener', Codes.format);
  const patch = asObj(cp.patch);
  const op = asStr(patch.operation) ?? 'INVALID';
  if (op !== 'MERGE') {
    rep.error(at(p, 'patch.operation'), `${op} is not implemented by Clew for VIRTUAL_HOST (MERGE is)`, Codes.format);
    return;
  }
  const err = virtualHostValueError(asObj(patch.value));
  if (err) rep.error(at(p, 'patch.value'), err, Codes.format);
}

export function validateEnvoyFilter(spec: Obj, rep: Reporter): void {
  asObjList(spec.configPatches).forEach((cp, i) => {
    const p = joinIndex('spec.configPatches', i);
    const applyTo = asStr(cp.applyTo) ?? 'INVALID';
    if (applyTo === 'VIRTUAL_HOST') {
      validateVirtualHostPatch(cp, p, rep);
      return;
    }
    if (applyTo !== 'HTTP_FILTER') {
      rep.error(joinKey(p, 'applyTo'), `${applyTo} patches are not implemented by Clew yet (HTTP_FILTER and VIRTUAL_HOST MERGE are)`, Codes.format);
      return;
    }
    if (has(asObj(cp.match), 'routeConfiguration')) rep.error(at(p, 'match.routeConfiguration'), 'HTTP_FILTER patches match by listener, not routeConfiguration', Codes.format);
    const m = asObj(cp.match);
    const l = asObj(m.listener);
    const fc = asObj(l.filterChain);
    const fname = asStr(asObj(fc.filter).name);
    if (fname !== undefined && !HCM_NAMES.has(fname)) rep.error(at(p, 'match.listener.filterChain.filter.name'), `HTTP_FILTER patches apply inside envoy.filters.network.http_connection_manager (got ${fname})`, Codes.format);
    const sub = asStr(asObj(asObj(fc.filter).subFilter).name);
    const patch = asObj(cp.patch);
    const op = asStr(patch.operation) ?? 'INVALID';
    if (!OPERATIONS.has(op)) {
      rep.error(at(p, 'patch.operation'), `${op} is not implemented by Clew for HTTP_FILTER (INSERT_BEFORE, INSERT_AFTER, INSERT_FIRST, REMOVE are)`, Codes.format);
      return;
    }
    if (op === 'REMOVE') {
      if (!sub) rep.error(at(p, 'match.listener.filterChain.filter.subFilter.name'), 'REMOVE needs the sub-filter name to remove', Codes.required);
      return;
    }
    const err = filterValueError(asObj(patch.value));
    if (err) rep.error(at(p, 'patch.value'), err, Codes.format);
  });
}
