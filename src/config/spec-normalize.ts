/**
 * Deprecated spellings Istio still takes (`mirror_percent`, `jwks_uri`: the proto field names its
 * CRDs list next to the JSON names) are renamed to the current field before validation, so the
 * builders read one name. Each rename is a warning at the line the user wrote; both spellings
 * at once stay as written, and the schema reports them as mutually exclusive.
 */
import { aliasLines, joinIndex, joinKey, lineForPath } from './field-path.js';
import { Codes, type ValidationMessage } from './messages.js';
import { isPlainObject, type Schema } from './schema-dsl.js';
import type { ConfigResource } from './types.js';

export function normalizeSpec(resource: ConfigResource, schema: Schema, base: string, out: ValidationMessage[]): void {
  const warn = (field: string, message: string) => out.push({
    file: resource.source?.file ?? '', line: lineForPath(resource.source, field), kind: resource.kind,
    namespace: resource.metadata.namespace, name: resource.metadata.name, field, message, severity: 'warning', code: Codes.deprecated,
  });
  const walk = (value: unknown, s: Schema, path: string): void => {
    if (s.t === 'list' && Array.isArray(value)) value.forEach((v, i) => walk(v, s.items, joinIndex(path, i)));
    else if (s.t === 'map' && isPlainObject(value)) for (const [k, v] of Object.entries(value)) walk(v, s.values, joinKey(path, k));
    else if (s.t === 'object' && isPlainObject(value)) {
      for (const [k, fs] of Object.entries(s.fields)) {
        const to = fs.renamedTo;
        if (!to || value[k] === undefined || value[k] === null || (value[to] !== undefined && value[to] !== null)) continue;
        const from = joinKey(path, k);
        warn(from, `"${k}" is a deprecated spelling of "${to}"; Clew reads it as ${to}`);
        aliasLines(resource.source, from, joinKey(path, to));
        value[to] = value[k];
        delete value[k];
      }
      for (const [k, v] of Object.entries(value)) if (s.fields[k]) walk(v, s.fields[k], joinKey(path, k));
    }
  };
  walk(resource.spec, schema, base);
}
