/**
 * The CustomResourceDefinitions of the kinds Clew implements, generated from the kinds table: one
 * CRD per kind in an Istio group, every version the table accepts (served; the newest stored,
 * the others converted by the API server with `None`: the schemas are identical), the status
 * subresource (the status writer's), and an OpenAPI v3 schema derived from the kind's own schema
 * (schema-dsl). The CRD schema states structure and types only: ranges, enums, required fields,
 * formats and semantics are checked by the validating webhook, so a user sees Clew's message
 * (the same as `clew validate`), not the API server's.
 */
import { isIstioGroup, KINDS, type KindDefinition } from '../../config/kinds.js';
import type { Schema } from '../../config/schema-dsl.js';

type OpenApi = Record<string, unknown>;

export function openApiOf(s: Schema, depth = 0): OpenApi {
  if (depth > 40) return { 'x-kubernetes-preserve-unknown-fields': true };
  switch (s.t) {
    case 'string':
    case 'duration':
      return { type: 'string' };
    case 'int':
      return { type: 'integer' };
    case 'number':
      return { type: 'number' };
    case 'bool':
      return { type: 'boolean' };
    case 'intOrString':
      return { 'x-kubernetes-int-or-string': true };
    case 'list':
      return { type: 'array', items: openApiOf(s.items, depth + 1) };
    case 'map':
      return { type: 'object', additionalProperties: openApiOf(s.values, depth + 1) };
    case 'object':
      return {
        type: 'object',
        properties: Object.fromEntries(Object.entries(s.fields).map(([k, v]) => [k, openApiOf(v, depth + 1)])),
      };
    case 'any':
      return { 'x-kubernetes-preserve-unknown-fields': true };
  }
}

const CATEGORIES: Record<string, string[]> = {
  'networking.istio.io': ['istio-io', 'networking-istio-io'],
  'security.istio.io': ['istio-io', 'security-istio-io'],
  'telemetry.istio.io': ['istio-io', 'telemetry-istio-io'],
};

export function crdFor(def: KindDefinition): OpenApi {
  const schema = {
    type: 'object',
    properties: {
      spec: openApiOf(def.schema),
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
  const newest = def.versions[def.versions.length - 1];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${def.group}`,
      labels: { app: 'istiod', 'app.kubernetes.io/part-of': 'clew' },
    },
    spec: {
      group: def.group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.kind.toLowerCase(),
        ...(def.shortNames.length ? { shortNames: [...def.shortNames] } : {}),
        categories: CATEGORIES[def.group] ?? ['istio-io'],
      },
      scope: 'Namespaced',
      versions: def.versions.map((v) => ({
        name: v,
        served: true,
        storage: v === newest,
        subresources: { status: {} },
        schema: { openAPIV3Schema: schema },
        additionalPrinterColumns: [{ name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' }],
      })),
    },
  };
}

/** Every CRD, in the kinds table's order. */
export function istioCrds(): OpenApi[] {
  return KINDS.filter((k) => isIstioGroup(k.group)).map((k) => crdFor(k));
}
