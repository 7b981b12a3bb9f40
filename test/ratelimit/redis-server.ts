/** A real redis-server (Debian's) on a free loopback port for tests, without persistence. */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePorts } from '../../src/local/local-ports.js';

export interface RedisProc {
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(port?: number): Promise<RedisProc> {
  const p = port ?? (await freePorts('127.0.0.1', 1))[0];
  const proc: ChildProcess = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    proc.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    proc.stdout!.on('data', () => {
      if (/Ready to accept connections/i.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited ${code}: ${out}`));
    });
  });
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGKILL');
      await gone;
    },
  };
}
