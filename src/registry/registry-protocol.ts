/**
 * Istio protocol selection for service ports: `appProtocol` wins, else the port name
 * `<protocol>[-<suffix>]`, else plain TCP. `http2foo` is not `http2` (the suffix needs a dash).
 */
import type { Protocol } from './types.js';

const BY_NAME: Record<string, Protocol> = {
  http: 'HTTP',
  http2: 'HTTP2',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  https: 'HTTPS',
  tcp: 'TCP',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
  udp: 'UDP',
};

/** Parses an explicit protocol value (appProtocol, ServiceEntry/Gateway `protocol`); undefined if unknown. */
export function parseProtocol(value: string | undefined): Protocol | undefined {
  if (!value) return undefined;
  return BY_NAME[value.toLowerCase()];
}

/** Protocol from a port name following `<protocol>[-<suffix>]`. */
export function protocolFromPortName(name: string | undefined): Protocol {
  if (!name) return 'TCP';
  const lower = name.toLowerCase();
  // grpc-web contains a dash itself, so try it before splitting on the first dash.
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return 'GRPC-Web';
  const dash = lower.indexOf('-');
  const head = dash < 0 ? lower : lower.slice(0, dash);
  return BY_NAME[head] ?? 'TCP';
}

/** Whether the name (`<protocol>[-<suffix>]`) or the explicit value declares a known protocol. */
export function protocolDeclared(name: string | undefined, explicit?: string): boolean {
  if (parseProtocol(explicit)) return true;
  if (!name) return false;
  const lower = name.toLowerCase();
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return true;
  const dash = lower.indexOf('-');
  return BY_NAME[dash < 0 ? lower : lower.slice(0, dash)] !== undefined;
}

/** Kubernetes Service port: appProtocol, then the name; `protocol: UDP` marks UDP. */
export function protocolForKubePort(port: { name?: string; appProtocol?: string; protocol?: string }): Protocol {
  if (port.protocol === 'UDP') return 'UDP';
  return parseProtocol(port.appProtocol) ?? protocolFromPortName(port.name);
}

/** Protocols whose traffic goes through the HTTP connection manager. */
export function isHttpProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-Web';
}

/** Protocols that need HTTP/2 upstream (Istio sets http2_protocol_options for them). */
export function isHttp2Protocol(p: Protocol): boolean {
  return p === 'HTTP2' || p === 'GRPC';
}
