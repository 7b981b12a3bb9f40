/** Port helpers for local mode: free ephemeral ports and "is this port free on that address". */
import { createServer } from 'node:net';
import { LocalError } from './local-errors.js';

/** Resolves true when `host:port` can be bound right now (false on EADDRINUSE/EACCES...). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** An ephemeral port the kernel hands out on `host` (free at the time of the call). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports on `host`; all are held open together so they cannot repeat. */
export async function freePorts(host: string, n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      return new Promise<import('node:net').Server>((resolve, reject) => {
        const srv = createServer();
        srv.once('error', reject);
        srv.listen({ host, port: 0, exclusive: true }, () => resolve(srv));
      });
    }),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Throws CLEW_LOCAL_PORT_IN_USE naming every busy port, with `what` telling the user why. */
export async function assertPortsFree(host: string, ports: { port: number; what: string }[]): Promise<void> {
  const busy: string[] = [];
  for (const p of ports) {
    if (!(await isPortFree(host, p.port))) busy.push(`${host}:${p.port} (${p.what})`);
  }
  if (busy.length > 0) {
    throw new LocalError('CLEW_LOCAL_PORT_IN_USE', `port already in use: ${busy.join(', ')}`);
  }
}
