/**
 * Network namespaces for tests (root only): created with `ip netns add`, named after the test
 * process so that parallel test files never collide, and deleted in after() and again at process
 * exit (a failing test leaves nothing behind). Processes started inside are the test's to stop.
 */
import { after } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';

const created = new Set<string>();

function cleanupAll(): void {
  for (const name of created) {
    // processes still inside keep the namespace alive; end them first
    const pids = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    spawnSync('ip', ['netns', 'del', name]);
    created.delete(name);
  }
}

after(() => cleanupAll());
process.once('exit', cleanupAll);

export function requireRoot(): void {
  assert.equal(process.getuid?.(), 0, 'this test programs iptables and network namespaces: run the suite as root (CI does)');
}

/** A short unique name: `ct<pid>-<tag>` (namespace names may be long; link names may not). */
export function nsName(tag: string): string {
  return `ct${process.pid}-${tag}`;
}

export function addNetns(tag: string): string {
  requireRoot();
  const name = nsName(tag);
  spawnSync('ip', ['netns', 'del', name]);
  const r = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip netns add ${name}: ${r.stderr}`);
  created.add(name);
  sh(name, 'ip link set lo up');
  return name;
}

export function delNetns(name: string): void {
  spawnSync('ip', ['netns', 'del', name]);
  created.delete(name);
}

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a shell command inside the namespace; throws on failure unless `allowFail`. */
export function sh(ns: string, command: string, opts: { allowFail?: boolean; input?: string; env?: NodeJS.ProcessEnv } = {}): ShResult {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', command], {
    encoding: 'utf8', input: opts.input, env: { ...process.env, ...opts.env }, timeout: 60_000,
  });
  const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (!opts.allowFail && res.code !== 0) throw new Error(`[${ns}] ${command}: exit ${res.code}\n${res.stdout}${res.stderr}`);
  return res;
}

/** iptables-save without comments and packet counters, for before/after comparisons. */
export function saveState(ns: string, bin = 'iptables'): string {
  return sh(ns, `${bin}-save`).stdout
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.trim() !== '')
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ''))
    .join('\n');
}
