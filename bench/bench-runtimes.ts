/**
 * The Node.js runtimes the suite measures the sidecar on (issue 22: Node 20 against 22 and 24 in
 * the same run). A runtime is the machine's own node when its major matches, else the pinned one
 * from scripts/node-runtime.sh (the npm registry's official binaries, installed once into a cache
 * outside the checkout). A runtime that cannot be found is "not run", with the reason.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './bench-util.js';

export const DEFAULT_RUNTIMES = [20, 22, 24];

export interface RuntimeBinary {
  major: number;
  node?: string;
  version?: string;
  /** why it is not measured */
  missing?: string;
}

/** `--runtimes 20,22,24` (or `none`): the majors, in order, without repeats. */
export function parseRuntimes(spec: string | undefined): number[] {
  if (spec === undefined) return DEFAULT_RUNTIMES;
  if (spec === 'none' || spec === '') return [];
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = Number(part.trim().replace(/^v/, ''));
    if (!Number.isInteger(m) || m < 1) throw new Error(`--runtimes ${spec}: expected majors like 20,22,24 (or none)`);
    if (!out.includes(m)) out.push(m);
  }
  return out;
}

function versionOf(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 10_000 }).trim();
}

/** Installed runtimes of that major in the caches node-runtime.sh uses (no install). */
function cached(major: number): string | undefined {
  const caches = [process.env.CLEW_NODE_CACHE, '/opt/clew/node', path.join(os.homedir(), '.cache', 'clew', 'node')].filter((d): d is string => !!d);
  for (const c of caches) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(c);
    } catch {
      continue;
    }
    const hit = names.filter((n) => n.startsWith(`${major}.`)).sort().pop();
    if (hit && fs.existsSync(path.join(c, hit, 'bin', 'node'))) return path.join(c, hit, 'bin', 'node');
  }
  return undefined;
}

/** Finds (and with `install`, installs through scripts/node-runtime.sh) the runtime of each major. */
export function findRuntime(major: number, install: boolean): RuntimeBinary {
  if (Number(process.versions.node.split('.')[0]) === major) return { major, node: process.execPath, version: process.version };
  let node: string | undefined;
  if (install) {
    try {
      const dir = execFileSync(path.join(repoRoot(), 'scripts', 'node-runtime.sh'), [String(major)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 }).trim();
      node = path.join(dir, 'bin', 'node');
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      return { major, missing: `scripts/node-runtime.sh ${major} failed: ${(e.stderr || e.message).trim().split('\n').pop()}` };
    }
  } else node = cached(major);
  if (!node) return { major, missing: `no Node.js ${major} installed (scripts/node-runtime.sh ${major}; --no-install given)` };
  try {
    return { major, node, version: versionOf(node) };
  } catch (err) {
    return { major, missing: `${node} does not run: ${(err as Error).message}` };
  }
}
