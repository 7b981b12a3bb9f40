/** Public surface of the ADS server module. */
export { AdsServer } from './ads-server.js';
export { grpcBindAddress, shutdownGrpcServer, GRPC_SHUTDOWN_GRACE_MS } from './grpc-server-lifecycle.js';
export {
  XdsServerError,
  type XdsServerErrorCode,
  type XdsStreamInfo,
  type StreamCaller,
  type StreamCredentials,
  type StreamRefusal,
  type XdsResourceSource,
  type TypeStatus,
  type StreamStatus,
  type PushRequest,
  type AdsLogger,
  type AdsServerOptions,
} from './ads-types.js';
export { adsServiceDefinition, SOTW_PATH, DELTA_PATH } from './ads-messages.js';
export { jsonToStruct, structToJson } from '../xds/struct.js';
