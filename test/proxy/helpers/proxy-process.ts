/** `clew proxy` as a real child process: spawn with flags, collect stderr, await readiness and exit. */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLEW_BIN } from '../../helpers/paths.js';
import { httpRequest, waitFor } from './harness.js';

export interface ProxyProcess {
  child: ChildProcess;
  readonly stderr: string;
  /** exit code (or the signal name) and when it happened */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** resolves when stderr has a line matching re (polled) */
  waitLog(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  waitReady(readyPort: number, ms?: number): Promise<void>;
}

export function spawnProxy(args: string[]): ProxyProcess {
  const child = spawn(process.execPath, [CLEW_BIN, 'proxy', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    child,
    get stderr() {
      return stderr;
    },
    exited,
    async waitLog(re, ms = 10_000) {
      let m: RegExpExecArray | null = null;
      await waitFor(() => (m = re.exec(stderr)) !== null || gone, ms, `log ${re} (stderr: ${stderr})`);
      if (!m) throw new Error(`proxy exited before logging ${re}: ${stderr}`);
      return m;
    },
    async waitReady(readyPort, ms = 10_000) {
      await waitFor(async () => {
        if (gone) throw new Error(`proxy exited: ${stderr}`);
        try {
          return (await httpRequest({ port: readyPort, path: '/healthz/ready' })).status === 200;
        } catch {
          return false;
        }
      }, ms, `ready (${stderr})`);
    },
  };
}
