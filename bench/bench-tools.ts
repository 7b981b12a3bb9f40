/**
 * The external tools of the suite: found on PATH, else installed through apt when running as root
 * (Debian package names below), else reported missing. Services that apt may have started for
 * haproxy/nginx are stopped: the suite runs its own instances with generated configs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const TOOLS = {
  taskset: 'util-linux',
  wrk: 'wrk',
  hey: 'hey',
  h2load: 'nghttp2-client',
  haproxy: 'haproxy',
  nginx: 'nginx',
} as const;

export type ToolName = keyof typeof TOOLS;

const EXTRA_PATH = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

export function which(cmd: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), ...EXTRA_PATH];
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export interface ToolStatus {
  found: Partial<Record<ToolName, string>>;
  missing: ToolName[];
  installed: ToolName[];
  notes: string[];
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function apt(args: string[], timeoutMs: number): boolean {
  const r = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: timeoutMs,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return r.status === 0;
}

/** Stops a system service started by the package's install scripts (ignored where there is none). */
function stopService(name: string): void {
  for (const [cmd, args] of [['service', [name, 'stop']], ['systemctl', ['stop', name]]] as const) {
    if (!which(cmd)) continue;
    spawnSync(cmd, [...args], { stdio: 'ignore', timeout: 20_000 });
    return;
  }
}

export function ensureTools(log: (line: string) => void, install = true): ToolStatus {
  const status: ToolStatus = { found: {}, missing: [], installed: [], notes: [] };
  const names = Object.keys(TOOLS) as ToolName[];
  let missing = names.filter((n) => !which(n));
  if (missing.length && install && isRoot() && which('apt-get')) {
    const pkgs = [...new Set(missing.map((n) => TOOLS[n]))];
    log(`installing with apt: ${pkgs.join(' ')}`);
    // a fresh machine has no package lists yet: update once, then install
    if (!apt(['install', '-y', '--no-install-recommends', ...pkgs], 300_000)) {
      apt(['update'], 300_000);
      if (!apt(['install', '-y', '--no-install-recommends', ...pkgs], 300_000)) status.notes.push(`apt-get install ${pkgs.join(' ')} failed`);
    }
    for (const n of missing) if (which(n)) status.installed.push(n);
    for (const svc of ['haproxy', 'nginx'] as const) if (status.installed.includes(svc)) stopService(svc);
    missing = names.filter((n) => !which(n));
  } else if (missing.length) {
    status.notes.push(isRoot() ? 'apt-get not available' : `not root: install them with: sudo apt-get install -y ${[...new Set(missing.map((n) => TOOLS[n]))].join(' ')}`);
  }
  for (const n of names) {
    const p = which(n);
    if (p) status.found[n] = p;
  }
  status.missing = missing;
  if (missing.length) log(`missing tools: ${missing.join(', ')} (${status.notes.join('; ')}); the measurements needing them are skipped`);
  return status;
}

/** One-line version strings of the tools, for the report. */
export function toolVersions(status: ToolStatus): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  const probe: Array<[ToolName, string[]]> = [['wrk', ['-v']], ['h2load', ['--version']], ['haproxy', ['-v']], ['nginx', ['-v']]];
  for (const [n, args] of probe) {
    if (!status.found[n]) continue;
    const r = spawnSync(status.found[n]!, args, { encoding: 'utf8', timeout: 5000 });
    const line = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').find((l) => /\d+\.\d+/.test(l)) ?? '';
    out[n] = line.replace(/Copyright.*$/, '').replace(/ - https?:.*$/, '').trim();
  }
  if (status.found.hey) {
    try {
      const v = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'hey'], { encoding: 'utf8', timeout: 5000 });
      out.hey = `hey ${v}`;
    } catch {
      out.hey = 'hey';
    }
  }
  return out;
}

/**
 * The suite's CPU split when taskset and a second CPU exist: the proxies on CPU 0, this process
 * and its load tools on CPU 1 (this call moves us there). Both undefined otherwise (nothing pinned).
 */
export function pinBenchCpus(): { proxyCpu: number | undefined; toolCpu: number | undefined } {
  if (which('taskset') === undefined || os.cpus().length < 2) return { proxyCpu: undefined, toolCpu: undefined };
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  return { proxyCpu: 0, toolCpu: 1 };
}
