/** EnvoyFilter validation: HTTP_FILTER patches Clew implements; everything else refused by name. */
import { doc, runCases, type Case } from './cases-helper.js';

const ef = (spec: string) => doc('EnvoyFilter', spec, 'networking.istio.io/v1alpha3');

const cases: Case[] = [
  {
    name: "an HTTP_FILTER INSERT_BEFORE of a TypedStruct the proxies implement is valid",
    yaml: ef("  workloadSelector: {labels: {app: web}}\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match:\n      context: SIDECAR_INBOUND\n      listener: {portNumber: 8080, filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}\n    patch:\n      operation: INSERT_BEFORE\n      value:\n        name: envoy.filters.http.local_ratelimit\n        typed_config:\n          '@type': type.googleapis.com/udpa.type.v1.TypedStruct\n          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit\n          value: {stat_prefix: rl}"),
    want: [],
  },
  {
    name: "other patch kinds, operations and match fields are refused by name",
    yaml: ef("  targetRefs: [{kind: Service, name: web}]\n  configPatches:\n  - applyTo: CLUSTER\n    patch: {operation: MERGE, value: {}}\n  - applyTo: HTTP_FILTER\n    match: {proxy: {proxyVersion: '1.2'}, listener: {filterChain: {sni: x, filter: {name: envoy.filters.network.tcp_proxy}}}}\n    patch: {operation: MERGE, value: {}}\n  - applyTo: HTTP_FILTER\n    patch: {operation: REMOVE}"),
    want: [
      "test.yaml:6: EnvoyFilter default/x: spec.targetRefs: is not implemented by Clew and cannot be ignored safely (the patch would not be scoped to these targets; use workloadSelector); remove it or use Istio",
      "test.yaml:8: EnvoyFilter default/x: spec.configPatches[0].applyTo: CLUSTER patches are not implemented by Clew yet (HTTP_FILTER and VIRTUAL_HOST MERGE are)",
      "test.yaml:11: EnvoyFilter default/x: spec.configPatches[1].match.proxy: is not implemented by Clew and cannot be ignored safely (the patch would apply to more than this match selects); remove it or use Istio",
      "test.yaml:11: EnvoyFilter default/x: spec.configPatches[1].match.listener.filterChain.sni: is not implemented by Clew and cannot be ignored safely (the patch would apply to more than this match selects); remove it or use Istio",
      "test.yaml:11: EnvoyFilter default/x: spec.configPatches[1].match.listener.filterChain.filter.name: HTTP_FILTER patches apply inside envoy.filters.network.http_connection_manager (got envoy.filters.network.tcp_proxy)",
      "test.yaml:12: EnvoyFilter default/x: spec.configPatches[1].patch.operation: MERGE is not implemented by Clew for HTTP_FILTER (INSERT_BEFORE, INSERT_AFTER, INSERT_FIRST, REMOVE are)",
      "test.yaml:13: EnvoyFilter default/x: spec.configPatches[2].match.listener.filterChain.filter.subFilter.name: REMOVE needs the sub-filter name to remove",
    ],
  },
  {
    name: "an unknown filter type, an unknown field in an @type config, a missing name",
    yaml: ef("  configPatches:\n  - applyTo: HTTP_FILTER\n    patch:\n      operation: INSERT_FIRST\n      value: {name: lua, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua}}\n  - applyTo: HTTP_FILTER\n    patch:\n      operation: INSERT_FIRST\n      value: {name: rbac, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC, rulez: {}}}\n  - applyTo: HTTP_FILTER\n    patch:\n      operation: INSERT_FIRST\n      value: {typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC}}"),
    want: [
      "test.yaml:10: EnvoyFilter default/x: spec.configPatches[0].patch.value: filter type type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua is not implemented by Clew's proxies (implemented: stats.PluginConfig, envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication, io.istio.network.authn.Config, envoy.extensions.filters.http.rbac.v3.RBAC, envoy.extensions.filters.http.ext_authz.v3.ExtAuthz, envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit, envoy.extensions.filters.http.ratelimit.v3.RateLimit, envoy.extensions.filters.http.fault.v3.HTTPFault, envoy.extensions.filters.http.cors.v3.Cors, istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig, envoy.extensions.filters.http.router.v3.Router)",
      "test.yaml:14: EnvoyFilter default/x: spec.configPatches[1].patch.value: value.typed_config has fields or values envoy.extensions.filters.http.rbac.v3.RBAC does not have (write it as proto field names, durations as {seconds}, or use a TypedStruct)",
      "test.yaml:18: EnvoyFilter default/x: spec.configPatches[2].patch.value: value.name is required",
    ],
  },
];

runCases(cases);
