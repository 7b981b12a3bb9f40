/** Galley's public surface: load, validate and serialise Istio configuration. */
export { formatMessage, hasErrors, Codes, type Severity, type ValidationMessage } from './messages.js';
export { parseConfigText, formatIgnored, type IgnoredResource, type LoadResult, type ParseOptions } from './load-parse.js';
export { loadConfigPaths, ConfigPathError } from './load-paths.js';
export { validateResource } from './validate-resource.js';
export { validateResources, type CrossOptions } from './validate-cross.js';
export { redacted, resourceKey, toYaml } from './resource-yaml.js';
export { parseGoDuration } from './value-duration.js';
export { resolveHost, hostMatches, followsPortNameConvention } from './value-host.js';
export * from './types.js';
export {
  KINDS, kindDefinition, kindByName, classifyKind, typesForKinds, qualifiedName, REGISTRY_KINDS, type KindDefinition,
} from './kinds.js';
export {
  applyMeshConfig, defaultMeshConfig, findExtensionProvider, providerKind, DEFAULT_TRACE_SAMPLING, DEFAULT_ZIPKIN_ADDRESS,
  type MeshConfig, type ExtensionProvider, type DefaultProviders, type MeshTracing, type AccessLogEncoding,
} from './mesh-config.js';
export {
  loadMeshConfigFile, parseMeshConfigText, parseConfigMapMesh, isMeshConfigMap, MeshConfigError, type MeshConfigLoad,
} from './load-mesh-config.js';
