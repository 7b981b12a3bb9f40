/**
 * Loading a mesh config: a YAML MeshConfig document (`--mesh-config mesh.yaml`), or an istio
 * ConfigMap whose `data.mesh` holds one. Messages name the file, line and field like every
 * other config message; the result is Istio's defaults with the file applied over them.
 */
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, LineCounter, Scalar, type Node, type YAMLMap } from 'yaml';
import { parseKubeYaml } from './yaml-kube.js';
import { attachLineMap, buildLineMap, lineForPath } from './field-path.js';
import { ConfigPathError } from './load-paths.js';
import { applyMeshConfig, defaultMeshConfig, type MeshConfig } from './mesh-config.js';
import { Codes, type ValidationMessage } from './messages.js';
import { checkSchema } from './schema-dsl.js';
import { meshConfigSchema } from './schema-mesh-config.js';
import { validateMeshConfig } from './semantic-mesh-config.js';
import type { SourceRef } from './types.js';

export interface MeshConfigLoad {
  /** Istio's defaults with the document applied (the defaults alone when it has errors). */
  meshConfig: MeshConfig;
  /** The document as written (validated), undefined when it has errors or is empty. */
  document?: MeshConfig;
  messages: ValidationMessage[];
}

export interface MeshParseOptions {
  /** what the document is applied over (default: Istio's defaults) */
  base?: MeshConfig;
  /** messages about a ConfigMap's `data.mesh` name that resource; fields get this prefix */
  owner?: { kind: string; namespace: string; name: string; fieldPrefix: string };
  /** line numbers inside the text are shifted to where it sits in its file (0 = as is) */
  lineOffset?: number;
  /** lines are meaningless (a quoted or folded string in a ConfigMap): report this line for all */
  fixedLine?: number;
}

/** A mesh config that must not be used: every message, formatted by the caller. */
export class MeshConfigError extends Error {
  readonly code = 'CLEW_MESH_CONFIG';
  constructor(readonly file: string, readonly messages: ValidationMessage[]) {
    super(`invalid mesh config ${file}: ${messages.filter((m) => m.severity === 'error').length} error(s)`);
    this.name = 'MeshConfigError';
  }
}

const MESH_CONFIGMAP = { name: 'istio', namespace: 'istio-system' };

/** Parses one MeshConfig document (`text` is the YAML of the MeshConfig itself). */
export function parseMeshConfigText(text: string, file: string, opts: MeshParseOptions = {}): MeshConfigLoad {
  const base = opts.base ?? defaultMeshConfig();
  const messages: ValidationMessage[] = [];
  const owner = opts.owner ?? { kind: '', namespace: '', name: '', fieldPrefix: '' };
  const shift = (line: number) => opts.fixedLine ?? line + (opts.lineOffset ?? 0);
  const add = (severity: 'error' | 'warning', line: number, field: string, message: string, code: string) => {
    const prefixed = owner.fieldPrefix && field ? `${owner.fieldPrefix}.${field}` : owner.fieldPrefix || field;
    messages.push({ file, line: shift(line), kind: owner.kind, namespace: owner.namespace, name: owner.name, field: prefixed, message, severity, code });
  };

  const lc = new LineCounter();
  // istiod reads the mesh config with the same YAML reader as Kubernetes objects
  const list = parseKubeYaml(text, lc).filter((d) => !(d.contents === null || (isScalar(d.contents) && d.contents.value === null)));
  const syntax = list.find((d) => d.errors.length > 0);
  if (syntax) {
    const err = syntax.errors[0];
    add('error', lc.linePos(err.pos[0]).line, '', `yaml: ${err.message.split('\n')[0]}`, Codes.yamlSyntax);
    return { meshConfig: base, messages };
  }
  if (list.length === 0) return { meshConfig: base, messages };
  if (list.length > 1) {
    add('error', lc.linePos(list[1].contents?.range?.[0] ?? 0).line, '', 'a mesh config is a single YAML document', Codes.notObject);
    return { meshConfig: base, messages };
  }
  const root = list[0].contents as Node;
  if (!isMap(root)) {
    add('error', lc.linePos(root.range?.[0] ?? 0).line, '', 'a mesh config must be a mapping of MeshConfig fields', Codes.notObject);
    return { meshConfig: base, messages };
  }
  const doc = list[0].toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  const source: SourceRef = { file, line: lc.linePos(root.range?.[0] ?? 0).line };
  attachLineMap(source, buildLineMap(root, lc));
  const lineOf = (field: string) => lineForPath(source, field);
  checkSchema(doc, meshConfigSchema, '', (field, message, code, severity = 'error') => add(severity, lineOf(field), field, message, code));
  validateMeshConfig(doc, {
    error: (field, message, code) => add('error', lineOf(field), field, message, code),
    warn: (field, message, code) => add('warning', lineOf(field), field, message, code),
  });
  messages.sort((a, b) => a.line - b.line);
  if (messages.some((m) => m.severity === 'error')) return { meshConfig: base, messages };
  const document = doc as MeshConfig;
  return { meshConfig: applyMeshConfig(document, base), document, messages };
}

/**
 * The `data.mesh` of an istio ConfigMap node (the file's own YAML node), with lines mapped back
 * into that file: exact for a `|` block, the `mesh:` line otherwise.
 */
export function parseConfigMapMesh(configMap: YAMLMap, lc: LineCounter, file: string, opts: MeshParseOptions = {}): MeshConfigLoad | undefined {
  const data = configMap.get('data', true);
  if (!isMap(data)) return undefined;
  const pair = data.items.find((p) => isScalar(p.key) && p.key.value === 'mesh');
  if (!pair || !isScalar(pair.value) || typeof pair.value.value !== 'string') return undefined;
  const keyLine = lc.linePos((pair.key as Node).range?.[0] ?? 0).line;
  const value = pair.value;
  const literal = value.type === Scalar.BLOCK_LITERAL;
  const indicatorLine = lc.linePos(value.range?.[0] ?? 0).line;
  return parseMeshConfigText(value.value as string, file, {
    ...opts,
    lineOffset: literal ? indicatorLine : undefined,
    fixedLine: literal ? undefined : keyLine,
  });
}

/**
 * Reads `--mesh-config FILE`: a MeshConfig document, or the istio ConfigMap (kind: ConfigMap,
 * data.mesh). Throws ConfigPathError when unreadable; errors are in the returned messages.
 */
export async function loadMeshConfigFile(path: string, base?: MeshConfig): Promise<MeshConfigLoad> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigPathError(path, e.code === 'ENOENT' ? 'no such file or directory' : e.message);
  }
  const lc = new LineCounter();
  const first = parseKubeYaml(text, lc)[0];
  const root = first?.contents;
  if (first && first.errors.length === 0 && isMap(root) && (first.toJS() as { kind?: unknown }).kind === 'ConfigMap') {
    const parsed = parseConfigMapMesh(root, lc, path, { base });
    if (parsed) return parsed;
    return {
      meshConfig: base ?? defaultMeshConfig(),
      messages: [{
        file: path, line: lc.linePos(root.range?.[0] ?? 0).line, kind: '', namespace: '', name: '', field: 'data.mesh',
        message: 'is required: the ConfigMap must hold the mesh config as a string under data.mesh', severity: 'error', code: Codes.required,
      }],
    };
  }
  return parseMeshConfigText(text, path, { base });
}

/** Whether a parsed Kubernetes object is the mesh config ConfigMap (istio-system/istio). */
export function isMeshConfigMap(kind: unknown, name: string, namespace: string): boolean {
  return kind === 'ConfigMap' && name === MESH_CONFIGMAP.name && namespace === MESH_CONFIGMAP.namespace;
}
