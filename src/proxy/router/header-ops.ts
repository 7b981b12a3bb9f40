/** Header add/set/remove lists (route, virtual host, route config, weighted cluster), compiled once. */
import { fail } from '../core/errors.js';
import { HEADER_VALUE_RULE, isHeaderName, isHeaderValue, isPathValue, PATH_VALUE_RULE } from '../../xds/field-values.js';

import type { HeaderMap } from '../core/header-map.js';

export type { HeaderMap } from '../core/header-map.js';

const enum Action {
  Append,
  AddIfAbsent,
  Overwrite,
  OverwriteIfExists,
}

export interface HeaderOps {
  add: Array<{ key: string; value: string; action: Action }>;
  remove: string[];
}

// The predicates are shared with the control plane's validation (xds/field-values.ts): config
// that validates is config the proxy takes.

/** A header value from config: rejected (NACK) when it could split an HTTP/1.1 message. */
export function checkHeaderValue(field: string, value: string): string {
  if (!isHeaderValue(value)) fail(`${field}: ${HEADER_VALUE_RULE}`);
  return value;
}

/** A path, host or scheme from config that goes into a request line or Location: no space or control character. */
export function checkPathValue(field: string, value: string): string {
  if (!isPathValue(value)) fail(`${field}: ${PATH_VALUE_RULE}`);
  return value;
}

export const EMPTY_OPS: HeaderOps = { add: [], remove: [] };

export function compileHeaderOps(toAdd: unknown, toRemove: unknown): HeaderOps {
  const add: HeaderOps['add'] = [];
  for (const o of (Array.isArray(toAdd) ? toAdd : []) as Array<Record<string, any>>) {
    const key = String(o.header?.key ?? '').toLowerCase();
    if (!key) continue;
    const value = String(o.header?.value ?? '');
    // the HTTP/1.1 codecs write header values as they are: reject what could split a message here
    if (!isHeaderName(key)) fail(`headers_to_add: invalid header name ${JSON.stringify(key)}`);
    checkHeaderValue(`headers_to_add: header ${key}`, value);
    let action = Action.Append;
    switch (o.append_action) {
      case 'ADD_IF_ABSENT': action = Action.AddIfAbsent; break;
      case 'OVERWRITE_IF_EXISTS_OR_ADD': action = Action.Overwrite; break;
      case 'OVERWRITE_IF_EXISTS': action = Action.OverwriteIfExists; break;
      default:
        if (o.append && typeof o.append === 'object' && o.append.value === false) action = Action.Overwrite;
        else if (o.append === false) action = Action.Overwrite;
    }
    add.push({ key, value, action });
  }
  const remove = (Array.isArray(toRemove) ? toRemove : []).map((k: unknown) => String(k).toLowerCase());
  return add.length === 0 && remove.length === 0 ? EMPTY_OPS : { add, remove };
}

/** Applies ops in Envoy's order: removals, then additions. */
export function applyHeaderOps(h: HeaderMap, ops: HeaderOps): void {
  if (ops === EMPTY_OPS) return;
  for (const k of ops.remove) delete h[k];
  for (const { key, value, action } of ops.add) {
    const cur = h[key];
    switch (action) {
      case Action.Append:
        if (cur === undefined) h[key] = value;
        else h[key] = Array.isArray(cur) ? [...cur, value] : [cur, value];
        break;
      case Action.AddIfAbsent:
        if (cur === undefined) h[key] = value;
        break;
      case Action.Overwrite:
        h[key] = value;
        break;
      case Action.OverwriteIfExists:
        if (cur !== undefined) h[key] = value;
        break;
    }
  }
}
