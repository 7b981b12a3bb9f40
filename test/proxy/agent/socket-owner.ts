/**
 * Which process holds the accepted end of a TCP connection, read from the kernel (Linux /proc):
 * the socket's inode from /proc/net/tcp by its address pair, then the process whose fd table
 * has `socket:[inode]`. Lets a test see which `clew proxy` worker accepted a connection.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import assert from 'node:assert/strict';
import * as http from 'node:http';

function hexPort(p: number): string {
  return p.toString(16).toUpperCase().padStart(4, '0');
}

/** inode of the IPv4 socket bound to 127.0.0.1:localPort connected to 127.0.0.1:remotePort */
export function socketInode(localPort: number, remotePort: number): string | undefined {
  const want = `0100007F:${hexPort(localPort)} 0100007F:${hexPort(remotePort)}`;
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && `${f[1]} ${f[2]}` === want) return f[9];
  }
  return undefined;
}

/** the pids among `pids` that have the socket open */
export function socketHolders(inode: string, pids: number[]): number[] {
  const link = `socket:[${inode}]`;
  return pids.filter((pid) => {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      return false;
    }
    return fds.some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === link;
      } catch {
        return false;
      }
    });
  });
}

/** A kept-alive client connection: send requests over it, and see which process serves it. */
export interface KeptConnection {
  localPort: number;
  get(path: string, host: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>;
  close(): void;
}

export async function keptConnection(port: number): Promise<KeptConnection> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let localPort = 0;
  const get: KeptConnection['get'] = (path, host) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('socket', (s) => {
        const lp = s.localPort;
        if (lp) localPort = lp;
        else s.once('connect', () => (localPort = s.localPort ?? 0));
      });
      req.setTimeout(5000, () => req.destroy(new Error('request timeout')));
      req.on('error', reject);
      req.end();
    });
  return {
    get localPort() {
      return localPort;
    },
    get,
    close: () => agent.destroy(),
  };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** which of `pids` holds the proxy's end of the connection */
export function servedBy(c: KeptConnection, listenerPort: number, pids: number[]): number[] {
  const inode = socketInode(listenerPort, c.localPort);
  assert.ok(inode, `the proxy's end of the connection from port ${c.localPort} is in /proc/net/tcp`);
  return socketHolders(inode, pids);
}
