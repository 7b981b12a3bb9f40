/**
 * Binding and stopping a grpc-js server, shared by every gRPC port the control plane serves
 * (plaintext ADS here, the TLS certificate + ADS port in src/security).
 */
import type * as grpc from '@grpc/grpc-js';

/** How long open calls may finish on close before they are cut. */
export const GRPC_SHUTDOWN_GRACE_MS = 1000;

/** `host:port` as grpc-js binds it: an IPv6 literal in brackets. */
export function grpcBindAddress(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Stops taking calls, lets open ones finish for up to `graceMs`, then cuts the rest. */
export function shutdownGrpcServer(server: grpc.Server, graceMs = GRPC_SHUTDOWN_GRACE_MS): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
