/**
 * Parsing: multi-document YAML text into resources that remember their file and lines, plus
 * messages (syntax, document shape, schema, semantics) and the list of ignored kinds.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, type YAMLMap } from 'yaml';
import { attachLineMap, buildLineMap, lineForPath } from './field-path.js';
import { Codes, type ValidationMessage } from './messages.js';
import { checkSchema, isPlainObject } from './schema-dsl.js';
import { objectMeta } from './schema-common.js';
import { apiVersionsOf, classifyKind, KINDS, type IstioKind } from './kinds.js';
import type { ConfigResource, ObjectMeta, SourceRef } from './types.js';
import { validateResource } from './validate-resource.js';
import { normalizeSpec } from './spec-normalize.js';
import { parseKubeYaml } from './yaml-kube.js';

/** A document outside Istio's API groups and the kinds table (Deployment, ServiceAccount, ...). */
export interface IgnoredResource {
  file: string;
  line: number;
  apiVersion: string;
  kind: string;
  name: string;
}

export interface LoadResult {
  /** Every resource that has apiVersion, kind and name, even if it has errors: check `messages`. */
  resources: ConfigResource[];
  ignored: IgnoredResource[];
  messages: ValidationMessage[];
  /** The files read (loadConfigPaths), in order. */
  files?: string[];
}

/** `f.yaml:2: ignored apps/v1 Deployment reviews-v1 (not an Istio configuration kind)`. */
export function formatIgnored(i: IgnoredResource): string {
  return `${i.file}:${i.line}: ignored ${i.apiVersion} ${i.kind} ${i.name} (not an Istio configuration kind)`;
}

export interface ParseOptions {
  defaultNamespace?: string;
}

const ISTIO_KINDS = KINDS.filter((k) => k.group !== '').map((k) => `${k.kind} (${k.group})`).join(', ');

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

export function parseConfigText(text: string, file: string, opts: ParseOptions = {}): LoadResult {
  const defaultNamespace = opts.defaultNamespace ?? 'default';
  const result: LoadResult = { resources: [], ignored: [], messages: [] };
  const lc = new LineCounter();
  const docs = parseKubeYaml(text, lc);
  const lineAt = (offset: number) => lc.linePos(offset).line;
  const docError = (line: number, field: string, message: string, code: string): void => {
    result.messages.push({ file, line, kind: '', namespace: '', name: '', field, message, severity: 'error', code });
  };

  for (const doc of docs) {
    if (doc.errors.length > 0) {
      // Later errors in a document usually follow from the first one.
      const err = doc.errors[0];
      docError(lineAt(err.pos[0]), '', `yaml: ${err.message.split('\n')[0]}`, Codes.yamlSyntax);
      continue;
    }
    const root = doc.contents as Node | null;
    if (root === null || (isScalar(root) && root.value === null)) continue; // empty document
    if (!isMap(root)) {
      docError(lineAt(root.range?.[0] ?? 0), '', 'document is not a mapping (expected a Kubernetes object with apiVersion and kind)', Codes.notObject);
      continue;
    }
    let js: unknown;
    try {
      js = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      docError(lineAt(root.range?.[0] ?? 0), '', `yaml: ${(err as Error).message}`, Codes.yamlSyntax);
      continue;
    }
    const obj = js as Record<string, unknown>;
    // A kubectl-style `kind: List` carries its objects in `items`.
    if (obj.kind === 'List' && obj.apiVersion === 'v1') {
      const items = root.get('items', true);
      if (isSeq(items)) {
        items.items.forEach((itemNode, i) => {
          const item = (obj.items as unknown[])[i];
          if (isMap(itemNode) && isPlainObject(item)) addObject(itemNode, item);
          else docError(lineAt((itemNode as Node).range?.[0] ?? 0), `items[${i}]`, 'must be a Kubernetes object', Codes.notObject);
        });
      }
      continue;
    }
    addObject(root, obj);
  }
  // Schema and semantic passes interleave; readers expect file order.
  result.messages.sort((a, b) => a.line - b.line);
  return result;

  function addObject(node: YAMLMap, obj: Record<string, unknown>): void {
    const keyLine = (key: string, fallback: number) => {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      return range ? lineAt(range[0]) : fallback;
    };
    const startLine = lineAt(node.range?.[0] ?? 0);
    const line = keyLine('kind', startLine);
    const apiVersion = obj.apiVersion;
    const kind = obj.kind;
    const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
    const rawName = typeof meta.name === 'string' ? meta.name : '';
    const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : defaultNamespace;

    if (typeof kind !== 'string' || kind === '') return docError(startLine, 'kind', 'is required', Codes.required);
    if (typeof apiVersion !== 'string' || apiVersion === '') return docError(startLine, 'apiVersion', 'is required', Codes.required);

    const kindClass = classifyKind(apiVersion, kind);
    if (kindClass.status === 'refused') {
      // an Istio kind that would have no effect: refusing it is safer than letting a user believe
      // a policy protects them
      result.messages.push({
        file, line, kind, namespace, name: rawName, field: '', severity: 'error', code: Codes.unsupportedKind,
        message: `${apiVersion} ${kind} is not supported by Clew (it would have no effect); Istio kinds Clew implements: ${ISTIO_KINDS}`,
      });
      return;
    }
    if (kindClass.status !== 'known') {
      result.ignored.push({ file, line, apiVersion, kind, name: rawName });
      return;
    }
    const accepted = apiVersionsOf(kindClass.def);

    const source: SourceRef = { file, line };
    attachLineMap(source, buildLineMap(node, lc));
    const metadata: ObjectMeta = { name: rawName, namespace };
    for (const k of ['labels', 'annotations'] as const) if (isPlainObject(meta[k])) metadata[k] = meta[k] as Record<string, string>;
    if (typeof meta.resourceVersion === 'string') metadata.resourceVersion = meta.resourceVersion;
    if (typeof meta.creationTimestamp === 'string') metadata.creationTimestamp = meta.creationTimestamp;
    // a kind without spec (Secret): its top-level fields make up the spec
    const topLevel = kindClass.def.topLevelSpec;
    const spec = topLevel ? Object.fromEntries(topLevel.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]])) : obj.spec;
    const resource: ConfigResource = { apiVersion, kind: kind as IstioKind, metadata, spec, source };

    const messages: ValidationMessage[] = [];
    const base = { file, kind, namespace, name: rawName, severity: 'error' as const };
    if (!accepted.includes(apiVersion)) {
      messages.push({ ...base, line: keyLine('apiVersion', line), field: 'apiVersion', message: `unsupported apiVersion "${apiVersion}" for ${kind} (accepted: ${accepted.join(', ')})`, code: Codes.apiVersion });
    }
    for (const k of Object.keys(obj)) {
      if ((!TOP_LEVEL.has(k) || (topLevel && k === 'spec')) && !topLevel?.includes(k)) messages.push({ ...base, line: keyLine(k, line), field: k, message: 'unknown field', code: Codes.unknownField });
    }
    // Metadata is checked on the raw object: the resource keeps only the fields Clew uses.
    checkSchema(obj.metadata ?? {}, objectMeta, 'metadata', (field, message, code) =>
      messages.push({ ...base, line: lineForPath(source, field), field, message, code }),
    );
    result.messages.push(...messages);
    if (rawName === '') return; // without a name it cannot be stored or referenced
    // deprecated spellings Istio still takes are renamed before validation and the builders see them
    if (isPlainObject(spec)) normalizeSpec(resource, kindClass.def.schema, topLevel ? '' : 'spec', result.messages);
    result.messages.push(...validateResource(resource));
    result.resources.push(resource);
  }
}
