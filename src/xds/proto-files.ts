/**
 * Envoy's v3 protos as .proto files (shipped by @grpc/grpc-js-xds under deps/): the source of the
 * compact descriptor Clew loads at run time (proto-descriptor.ts, envoy-descriptor.json). Only
 * the descriptor generator and its tests parse these files; a running proxy or control plane
 * does not (parsing them costs about 0.5 s and keeps every comment and option in memory).
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';
import * as fs from 'node:fs';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

function depsDir(): string {
  const pkg = require.resolve('@grpc/grpc-js-xds/package.json');
  return path.join(path.dirname(pkg), 'deps');
}

export function includeDirs(): string[] {
  const d = depsDir();
  return [
    path.join(d, 'envoy-api'),
    path.join(d, 'xds'),
    path.join(d, 'googleapis'),
    path.join(d, 'protoc-gen-validate'),
    // google/protobuf/descriptor.proto and friends ship with protobufjs itself
    path.dirname(require.resolve('protobufjs/package.json')),
  ];
}

/**
 * The proto files whose messages Clew puts on (or reads off) the wire. Every type that can appear
 * inside an `Any` we produce or consume must be declared in one of them: the descriptor keeps
 * these files' messages and enums and what their fields reach, nothing else.
 */
export const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  // FilterConfig (a typed_per_filter_config wrapper) lives here
  'envoy/config/route/v3/route_components.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/connection_limit/v3/connection_limit.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  // CheckRequest / CheckResponse: the ext_authz gRPC protocol the proxy speaks as a client
  'envoy/service/auth/v3/external_auth.proto',
  'envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto',
  // RateLimitRequest / RateLimitResponse: the global rate limit protocol (proxy client, `clew ratelimit` server)
  'envoy/service/ratelimit/v3/rls.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/filters/cel/v3/cel.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/config/core/v3/health_check.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/config/trace/v3/opentelemetry.proto',
  'udpa/type/v1/typed_struct.proto',
  'google/protobuf/struct.proto',
  'google/protobuf/wrappers.proto',
  'google/protobuf/duration.proto',
  'google/rpc/status.proto',
];

/** A Root parsed from the .proto files (with their imports, comments and options). */
export function loadProtoFiles(): protobuf.Root {
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => {
    if (path.isAbsolute(target) && fs.existsSync(target)) return target;
    for (const dir of dirs) {
      const full = path.join(dir, target);
      if (fs.existsSync(full)) return full;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: true, alternateCommentMode: false });
  root.resolveAll();
  return root;
}
