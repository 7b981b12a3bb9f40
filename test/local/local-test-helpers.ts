/** Helpers shared by the local-mode tests. */
import { after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const started = new Set<ChildProcess>();
const dirs: string[] = [];
// a failed assertion must not leave a fixture running (it would also keep the test file alive)
after(() => {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./${name}.js`, import.meta.url));
}

export function tempStateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'clew-test-state-'));
  dirs.push(d);
  return d;
}

/** Waits (bounded) until `pred` holds; throws with `what` on timeout. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Collects a child's stdout+stderr and resolves on the first stdout line that parses as JSON. */
export function startFixture(name: string, args: string[], env: NodeJS.ProcessEnv): {
  proc: ChildProcess;
  output: () => string;
  json: Promise<unknown>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const proc = spawn(process.execPath, [fixture(name), ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(proc);
  let out = '';
  const json = new Promise<unknown>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (line.startsWith('{') || line.startsWith('[')) {
          try {
            resolve(JSON.parse(line));
          } catch {
            /* partial */
          }
        }
      }
    });
    proc.once('exit', () => reject(new Error(`${name} exited early: ${out}`)));
  });
  json.catch(() => {});
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  return { proc, output: () => out, json, exited };
}
