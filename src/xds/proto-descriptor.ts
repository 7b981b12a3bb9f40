/**
 * The compact descriptor: the Envoy message and enum types Clew encodes and decodes, as
 * protobufjs JSON (`Root.fromJSON`), generated from the .proto files (proto-files.ts) into
 * src/xds/envoy-descriptor.json by `node dist/src/xds/proto-descriptor-write.js`.
 *
 * It keeps the messages and enums declared in PROTO_FILES and every type their fields reach
 * (with the messages enclosing a kept nested type), and drops the rest of the imported files
 * (validation rules, annotations, descriptor.proto, unreferenced types), comments, options other
 * than those that change the wire format, reserved ranges and services. Loading it takes a
 * fraction of the time and memory of parsing the .proto files, and the result encodes and
 * decodes the same bytes (test/xds/proto-descriptor.test.ts).
 */
import protobuf from 'protobufjs';
import { PROTO_FILES } from './proto-files.js';

/** field options that change encoding or decoding; every other option is documentation */
const WIRE_FIELD_OPTIONS = ['packed', 'default', 'proto3_optional'];

type Json = Record<string, any>;

function declaredIn(files: Set<string>, obj: protobuf.ReflectionObject): boolean {
  const f = obj.filename;
  if (!f) return false;
  for (const p of files) if (f === p || f.endsWith(`/${p}`)) return true;
  return false;
}

/** Full names of the types in the JSON of a file bundled with protobufjs (google/protobuf/*). */
function bundledTypeNames(json: Json | null, prefix = ''): string[] {
  const out: string[] = [];
  for (const [name, v] of Object.entries((json?.nested ?? {}) as Json)) {
    const full = prefix ? `${prefix}.${name}` : name;
    if (v.fields || v.values) out.push(full);
    out.push(...bundledTypeNames(v, full));
  }
  return out;
}

/** The kept types: those declared in `files` and their closure over field types and parents. */
export function reachableTypes(root: protobuf.Root, files: readonly string[] = PROTO_FILES): Set<protobuf.ReflectionObject> {
  const fileSet = new Set(files);
  const keep = new Set<protobuf.ReflectionObject>();
  const queue: protobuf.Type[] = [];
  const add = (o: protobuf.ReflectionObject | null | undefined): void => {
    for (let cur = o; cur && !keep.has(cur); cur = cur.parent) {
      if (!(cur instanceof protobuf.Type) && !(cur instanceof protobuf.Enum)) return;
      keep.add(cur);
      if (cur instanceof protobuf.Type) queue.push(cur);
    }
  };
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if ((o instanceof protobuf.Type || o instanceof protobuf.Enum) && declaredIn(fileSet, o)) add(o);
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
  for (const f of files) for (const name of bundledTypeNames(protobuf.common.get(f) as Json | null)) add(root.lookup(name));
  while (queue.length) {
    const t = queue.pop()!;
    for (const field of t.fieldsArray) {
      field.resolve();
      add(field.resolvedType);
    }
  }
  return keep;
}

function fieldJson(field: protobuf.Field): Json {
  const j: Json = { ...(field.toJSON() as Json) };
  delete j.comment;
  const opts: Json = {};
  for (const k of WIRE_FIELD_OPTIONS) if (j.options && k in j.options) opts[k] = j.options[k];
  if (Object.keys(opts).length) j.options = opts;
  else delete j.options;
  return j;
}

function namespaceJson(ns: protobuf.NamespaceBase, keep: Set<protobuf.ReflectionObject>): Json {
  const out: Json = {};
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) {
      if (!keep.has(o)) continue;
      const j: Json = {};
      const edition = (o.toJSON() as Json).edition;
      if (edition) j.edition = edition;
      if (o.oneofsArray.length) {
        j.oneofs = {};
        for (const oneof of o.oneofsArray) j.oneofs[oneof.name] = { oneof: [...oneof.oneof] };
      }
      j.fields = {};
      // sister fields of extensions live with their declaration, which is dropped
      for (const field of o.fieldsArray) if (!field.declaringField) j.fields[field.name] = fieldJson(field);
      const nested = namespaceJson(o, keep);
      if (Object.keys(nested).length) j.nested = nested;
      out[o.name] = j;
    } else if (o instanceof protobuf.Enum) {
      if (!keep.has(o)) continue;
      const j: Json = { values: { ...o.values } };
      const edition = (o.toJSON() as Json).edition;
      if (edition) j.edition = edition;
      out[o.name] = j;
    } else if (o instanceof protobuf.Namespace && !(o instanceof protobuf.Service)) {
      const nested = namespaceJson(o, keep);
      if (Object.keys(nested).length) out[o.name] = { nested };
    }
  }
  return out;
}

/** The compact descriptor of `root` (a Root parsed from the .proto files). */
export function compactDescriptor(root: protobuf.Root, files: readonly string[] = PROTO_FILES): Json {
  return { nested: namespaceJson(root, reachableTypes(root, files)) };
}

function isLeaf(v: unknown): boolean {
  return v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object'));
}

function format(v: unknown, indent: string): string {
  if (isLeaf(v)) return JSON.stringify(v);
  const entries = Object.entries(v as Json);
  // a field, an enum's values, a oneof: one line each
  if (entries.every(([, x]) => isLeaf(x) || Object.values(x as Json).every(isLeaf))) return JSON.stringify(v);
  const inner = `${indent} `;
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${format(x, inner)}`).join(',\n')}\n${indent}}`;
}

/** The descriptor as written to envoy-descriptor.json (one field, enum or oneof per line). */
export function descriptorText(descriptor: Json): string {
  return `${format(descriptor, '')}\n`;
}
