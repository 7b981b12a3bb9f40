/**
 * The table of configuration kinds: the one place a kind is declared. Everything that depends on
 * the kind reads this table: YAML loading (group, versions, refusal of Istio kinds Clew does not
 * implement), validation (schema, semantics, name rule, cross-resource checks), the control
 * plane's store (registry kinds), the push scheduler (which xDS types a change pushes), the push
 * context (its per-kind index) and the CLI (`clew get/delete` names, `kind.group/name`, columns).
 *
 * Adding a kind: a `schema-<kind>.ts` and `semantic-<kind>.ts`, its spec type in types.ts, and
 * one entry below. Builders then read `pushContext.ofKind('<Kind>')`.
 */
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, SECRET_TYPE } from '../xds/type-urls.js';
import type { CrossOptions } from './validate-cross.js';
import type { Schema } from './schema-dsl.js';
import { destinationRuleSchema } from './schema-destination-rule.js';
import { gatewaySchema } from './schema-gateway.js';
import { kubeServiceSchema } from './schema-kube.js';
import { serviceEntrySchema, workloadEntrySchema } from './schema-service-entry.js';
import { sidecarSchema } from './schema-sidecar.js';
import { telemetrySchema } from './schema-telemetry.js';
import { peerAuthenticationSchema } from './schema-peer-authentication.js';
import { SECRET_FIELDS, secretSchema } from './schema-secret.js';
import { validatePeerAuthentication } from './semantic-peer-authentication.js';
import { validateSecret } from './semantic-secret.js';
import { virtualServiceSchema } from './schema-virtual-service.js';
import { validateDestinationRule } from './semantic-destination-rule.js';
import { validateGateway } from './semantic-gateway.js';
import { validateKubeService } from './semantic-kube-service.js';
import { validateServiceEntry, validateWorkloadEntry } from './semantic-service-entry.js';
import { validateSidecar } from './semantic-sidecar.js';
import { validateTelemetry } from './semantic-telemetry.js';
import { validateVirtualService } from './semantic-virtual-service.js';
import type { Obj } from './semantic-util.js';
import type { ConfigResource } from './types.js';
import type { Reporter } from './validate-reporter.js';
import { crossCheckTelemetry } from './validate-telemetry-cross.js';
import { crossCheckAuthorizationPolicies } from './validate-authz-cross.js';
import { authorizationPolicySchema } from './schema-authorization-policy.js';
import { validateAuthorizationPolicy } from './semantic-authorization-policy.js';
import { requestAuthenticationSchema } from './schema-request-authentication.js';
import { validateRequestAuthentication } from './semantic-request-authentication.js';
import { envoyFilterSchema } from './schema-envoy-filter.js';
import { validateEnvoyFilter } from './semantic-envoy-filter.js';

/** Cross-resource checks of one kind (warnings, istioctl analyze's role). */
export type CrossCheck = (
  ofThisKind: ConfigResource[],
  ctx: {
    all: ConfigResource[];
    reporterFor: (r: ConfigResource) => { rep: Reporter; flush: () => void };
    opts: CrossOptions;
  },
) => void;

/** Kubernetes' name rules: most kinds take a DNS-1123 subdomain, Services a DNS-1035 label. */
export type NameRule = 'dns1123Subdomain' | 'dns1035Label';

export interface KindDefinition<K extends string = string> {
  kind: K;
  /** API group; '' for Kubernetes' core group (`apiVersion: v1`) */
  group: string;
  /** versions accepted, oldest first */
  versions: readonly string[];
  /** lower-case plural, kubectl's resource name (`clew get virtualservices`) */
  plural: string;
  /** more names for `clew get/delete` (`vs`) */
  shortNames: readonly string[];
  schema: Schema;
  semantic?: (spec: Obj, rep: Reporter) => void;
  /** a resource without `spec` is valid (an empty Telemetry) */
  specOptional?: boolean;
  nameRule: NameRule;
  /**
   * How the control plane keeps it: every kind is one YAML file per resource in the config dir;
   * `registry` kinds also feed the service registry (services and endpoints are rebuilt from them).
   */
  storage: 'config' | 'registry';
  /** the xDS types a change of this kind can affect; 'all' = a full push */
  pushes: readonly string[] | 'all';
  /**
   * For kinds without `spec` (a Secret): the top-level fields that make up the resource's spec;
   * messages name them without a `spec.` prefix, and YAML output writes them at the top level.
   */
  topLevelSpec?: readonly string[];
  /** holds secrets: files written 0600, values redacted in read APIs (/debug/configz, clew get) */
  sensitive?: boolean;
  /** extra columns of `clew get` */
  columns?: (spec: any) => Record<string, string>;
  cross?: CrossCheck;
}

const NETWORKING = 'networking.istio.io';
const NETWORKING_VERSIONS = ['v1alpha3', 'v1beta1', 'v1'] as const;

function define<K extends string>(d: KindDefinition<K>): KindDefinition<K> {
  return d;
}

const json = (v: unknown) => JSON.stringify(v ?? []);

export const KINDS = [
  define({
    kind: 'VirtualService', group: NETWORKING, versions: NETWORKING_VERSIONS, plural: 'virtualservices', shortNames: ['vs'],
    schema: virtualServiceSchema, semantic: validateVirtualService, nameRule: 'dns1123Subdomain', storage: 'config',
    // tcp routes and gateway-bound hosts live in listeners
    pushes: [LISTENER_TYPE, ROUTE_TYPE],
    columns: (s) => ({ GATEWAYS: json(s.gateways), HOSTS: json(s.hosts) }),
  }),
  define({
    kind: 'DestinationRule', group: NETWORKING, versions: NETWORKING_VERSIONS, plural: 'destinationrules', shortNames: ['dr'],
    schema: destinationRuleSchema, semantic: validateDestinationRule, nameRule: 'dns1123Subdomain', storage: 'config',
    // subsets and policies are clusters; hash policies are routes
    pushes: [CLUSTER_TYPE, ENDPOINT_TYPE, ROUTE_TYPE],
    columns: (s) => ({ HOST: s.host ?? '', SUBSETS: (s.subsets ?? []).map((x: any) => x?.name).join(',') }),
  }),
  define({
    kind: 'Gateway', group: NETWORKING, versions: NETWORKING_VERSIONS, plural: 'gateways', shortNames: ['gw'],
    schema: gatewaySchema, semantic: validateGateway, nameRule: 'dns1123Subdomain', storage: 'config',
    pushes: [LISTENER_TYPE, ROUTE_TYPE],
    columns: (s) => ({ SERVERS: (s.servers ?? []).map((x: any) => `${x?.port?.protocol}/${x?.port?.number}`).join(',') }),
  }),
  define({
    kind: 'ServiceEntry', group: NETWORKING, versions: NETWORKING_VERSIONS, plural: 'serviceentries', shortNames: ['se'],
    schema: serviceEntrySchema, semantic: validateServiceEntry, nameRule: 'dns1123Subdomain', storage: 'registry',
    pushes: 'all',
    columns: (s) => ({ HOSTS: json(s.hosts), LOCATION: s.location ?? '', RESOLUTION: s.resolution ?? '' }),
  }),
  define({
    kind: 'WorkloadEntry', group: NETWORKING, versions: NETWORKING_VERSIONS, plural: 'workloadentries', shortNames: ['we'],
    schema: workloadEntrySchema, semantic: (s, r) => validateWorkloadEntry(s, 'spec', r), nameRule: 'dns1123Subdomain',
    storage: 'registry', pushes: 'all',
    columns: (s) => ({ ADDRESS: s.address ?? '' }),
  }),
  define({
    kind: 'Sidecar', group: NETWORKING, versions: NETWORKING_VERSIONS, plural: 'sidecars', shortNames: [],
    schema: sidecarSchema, semantic: validateSidecar, nameRule: 'dns1123Subdomain', storage: 'config',
    pushes: 'all',
  }),
  define({
    kind: 'Service', group: '', versions: ['v1'], plural: 'services', shortNames: ['svc'],
    schema: kubeServiceSchema, semantic: validateKubeService, nameRule: 'dns1035Label', storage: 'registry',
    pushes: 'all',
    columns: (s) => ({ PORTS: (s.ports ?? []).map((p: any) => `${p?.port}/${p?.name ?? ''}`).join(',') }),
  }),
  define({
    kind: 'Telemetry', group: 'telemetry.istio.io', versions: ['v1alpha1', 'v1'], plural: 'telemetries', shortNames: [],
    schema: telemetrySchema, semantic: validateTelemetry, specOptional: true, nameRule: 'dns1123Subdomain', storage: 'config',
    // access_log, tracing and istio.stats live in listeners; collectors outside the registry get a cluster
    pushes: [LISTENER_TYPE, CLUSTER_TYPE],
    cross: (telemetries, { reporterFor, opts }) => crossCheckTelemetry(telemetries, reporterFor, opts.meshConfig),
  }),
  define({
    kind: 'PeerAuthentication', group: 'security.istio.io', versions: ['v1beta1', 'v1'], plural: 'peerauthentications', shortNames: ['pa'],
    schema: peerAuthenticationSchema, semantic: validatePeerAuthentication, nameRule: 'dns1123Subdomain', storage: 'config',
    // inbound filter chains (LDS), auto-mTLS endpoint metadata (EDS) and transport-socket matches (CDS)
    pushes: [LISTENER_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE],
    columns: (s) => ({
      MODE: s.mtls?.mode ?? 'UNSET',
      PORTS: Object.entries(s.portLevelMtls ?? {}).map(([p, m]: [string, any]) => `${p}=${m?.mode ?? 'UNSET'}`).join(','),
    }),
  }),
  define({
    kind: 'Secret', group: '', versions: ['v1'], plural: 'secrets', shortNames: [],
    schema: secretSchema, semantic: validateSecret, specOptional: true, nameRule: 'dns1123Subdomain', storage: 'config',
    topLevelSpec: SECRET_FIELDS, sensitive: true,
    // credentialName material goes to the proxies as SDS resources over ADS
    pushes: [SECRET_TYPE],
    columns: (s) => ({ TYPE: s.type ?? 'Opaque', DATA: String(Object.keys({ ...(s.data ?? {}), ...(s.stringData ?? {}) }).length) }),
  }),
  define({
    kind: 'AuthorizationPolicy', group: 'security.istio.io', versions: ['v1beta1', 'v1'], plural: 'authorizationpolicies', shortNames: ['ap'],
    // `spec: {}` is meaningful (ALLOW nothing); a missing spec is the same
    schema: authorizationPolicySchema, semantic: validateAuthorizationPolicy, specOptional: true, nameRule: 'dns1123Subdomain', storage: 'config',
    // RBAC and ext_authz filters live in the inbound and gateway listeners
    pushes: [LISTENER_TYPE],
    columns: (s) => ({ ACTION: s?.action ?? 'ALLOW' }),
    cross: (policies, { reporterFor, opts }) => crossCheckAuthorizationPolicies(policies, reporterFor, opts.meshConfig),
  }),
  define({
    kind: 'RequestAuthentication', group: 'security.istio.io', versions: ['v1beta1', 'v1'], plural: 'requestauthentications', shortNames: ['ra'],
    schema: requestAuthenticationSchema, semantic: validateRequestAuthentication, specOptional: true, nameRule: 'dns1123Subdomain', storage: 'config',
    // jwt_authn filters live in the inbound and gateway listeners
    pushes: [LISTENER_TYPE],
    columns: (s) => ({ ISSUERS: (s?.jwtRules ?? []).map((r: any) => r?.issuer).join(',') }),
  }),
  define({
    kind: 'EnvoyFilter', group: NETWORKING, versions: ['v1alpha3'], plural: 'envoyfilters', shortNames: [],
    schema: envoyFilterSchema, semantic: validateEnvoyFilter, nameRule: 'dns1123Subdomain', storage: 'config',
    // HTTP_FILTER patches live in listeners, VIRTUAL_HOST patches in route configurations
    pushes: [LISTENER_TYPE, ROUTE_TYPE],
  }),
] as const;

/** The kinds Clew implements. */
export type IstioKind = (typeof KINDS)[number]['kind'];

const BY_KIND = new Map<string, KindDefinition>(KINDS.map((k) => [k.kind, k]));

export function kindDefinition(kind: string): KindDefinition | undefined {
  return BY_KIND.get(kind);
}

/** `networking.istio.io/v1`; `v1` for the core group. */
export function apiVersionsOf(def: KindDefinition): string[] {
  return def.versions.map((v) => (def.group ? `${def.group}/${v}` : v));
}

export function groupOfApiVersion(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Istio's API groups: networking, security, telemetry, extensions, ... (`*.istio.io`). */
export function isIstioGroup(group: string): boolean {
  return group === 'istio.io' || group.endsWith('.istio.io');
}

/**
 * What loading does with a document of this apiVersion and kind:
 * - `known`: a kind of the table in its group (the version may still be unsupported),
 * - `refused`: an Istio API group but a kind Clew does not implement (applying it would give a
 *   false sense of protection or routing),
 * - `ignored`: outside Istio's groups and the table (Deployment, ServiceAccount, ...).
 */
export function classifyKind(apiVersion: string, kind: string): { status: 'known'; def: KindDefinition } | { status: 'refused' | 'ignored' } {
  const group = groupOfApiVersion(apiVersion);
  const def = BY_KIND.get(kind);
  if (def && def.group === group) return { status: 'known', def };
  return { status: isIstioGroup(group) ? 'refused' : 'ignored' };
}

/** Which xDS types a change of these kinds can affect; undefined = every type (a full push). */
export function typesForKinds(kinds: Iterable<string>): string[] | undefined {
  const types = new Set<string>();
  for (const kind of kinds) {
    const pushes = BY_KIND.get(kind)?.pushes ?? 'all';
    if (pushes === 'all') return undefined;
    for (const t of pushes) types.add(t);
  }
  return [...types];
}

/** Kinds whose resources feed the service registry. */
export const REGISTRY_KINDS: ReadonlySet<string> = new Set(KINDS.filter((k) => k.storage === 'registry').map((k) => k.kind));

/** A kind from its name, plural or short name, any case; `virtualservice.networking.istio.io` too. */
export function kindByName(text: string): KindDefinition | undefined {
  const lc = text.toLowerCase();
  const dot = lc.indexOf('.');
  const word = dot < 0 ? lc : lc.slice(0, dot);
  const group = dot < 0 ? undefined : lc.slice(dot + 1);
  return KINDS.find((k) => (group === undefined || group === k.group)
    && (word === k.kind.toLowerCase() || word === k.plural || k.shortNames.includes(word)));
}

/** `virtualservice.networking.istio.io/reviews`, as kubectl prints it. */
export function qualifiedName(kind: string, name: string): string {
  const group = BY_KIND.get(kind)?.group ?? '';
  return `${kind.toLowerCase()}${group ? `.${group}` : ''}/${name}`;
}
