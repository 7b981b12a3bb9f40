/** Runs the real `clew` binary asynchronously (the control plane under test may live in this process). */
import { execFile } from 'node:child_process';
import { CLEW_BIN } from './paths.js';

export interface ClewResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runClew(args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ClewResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLEW_BIN, ...args], { timeout: opts.timeoutMs ?? 20_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0;
        resolve({ code, stdout, stderr });
      });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
