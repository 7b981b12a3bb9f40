/** Envoy-style local replies: text bodies, response flags, gRPC trailers-only form. */

/** Envoy's mapping of an HTTP status to a gRPC status for local replies to gRPC requests. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

export const LOCAL_REPLY = {
  noHealthyUpstream: 'no healthy upstream',
  connectFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  reset: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
  remoteReset: 'upstream connect error or disconnect/reset before headers. reset reason: remote reset',
  protocolError: 'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  timeout: 'upstream request timeout',
  faultAbort: 'fault filter abort',
  noCluster: '',
} as const;
