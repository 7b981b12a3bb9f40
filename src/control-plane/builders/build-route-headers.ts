/** Istio header operations → Envoy header manipulation fields (route level or per weighted cluster). */
import type { HeaderOperations, Headers } from '../../config/types.js';
import type { EnvoyResource } from '../../xds/codec.js';

function toAdd(ops: HeaderOperations | undefined): EnvoyResource[] {
  const out: EnvoyResource[] = [];
  for (const [key, value] of Object.entries(ops?.set ?? {})) {
    out.push({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
  }
  for (const [key, value] of Object.entries(ops?.add ?? {})) {
    out.push({ header: { key, value }, append_action: 'APPEND_IF_EXISTS_OR_ADD' });
  }
  return out;
}

/** Adds request/response header fields to `target` (appending to any already there). */
export function applyHeaderOperations(target: EnvoyResource, headers: Headers | undefined): void {
  if (!headers) return;
  const pairs: [HeaderOperations | undefined, string, string][] = [
    [headers.request, 'request_headers_to_add', 'request_headers_to_remove'],
    [headers.response, 'response_headers_to_add', 'response_headers_to_remove'],
  ];
  for (const [ops, addKey, removeKey] of pairs) {
    const add = toAdd(ops);
    if (add.length) target[addKey] = [...(target[addKey] ?? []), ...add];
    if (ops?.remove?.length) target[removeKey] = [...(target[removeKey] ?? []), ...ops.remove];
  }
}
