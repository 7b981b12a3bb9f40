/**
 * The memory soak in the suite's verdict table (the contract with bench/soak-memory.ts): with
 * `--soak-minutes N` the suite runs `node dist/bench/soak-memory.js --minutes N --write` as a
 * child process (it starts its own upstream, control plane and sidecar, after the suite's have
 * stopped) and reads the bench/results-soak.json it writes; without, it reads an existing
 * results-soak.json and the report gives that file's date and commit beside the verdict. No file:
 * "not run", never a pass.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SoakEntry, SoakResult } from './bench-results.js';
import { runTool } from './bench-proc.js';
import { repoRoot } from './bench-util.js';

export const SOAK_FILE = 'bench/results-soak.json';

const NUMBERS: Array<keyof SoakResult> = ['minutes', 'rps', 'idleRssMb', 'peakRssMb', 'rssAt5MinMb', 'rssEndMb', 'growthAfter5MinMb', 'requests', 'failed'];

/** Parses results-soak.json; throws naming the field that is missing or not a number. */
export function parseSoak(text: string, file: string): SoakResult {
  const j = JSON.parse(text) as Record<string, unknown>;
  if (!j || typeof j !== 'object') throw new Error(`${file}: not a JSON object`);
  for (const k of NUMBERS) if (typeof j[k] !== 'number') throw new Error(`${file}: field ${k} is ${j[k] === undefined ? 'missing' : `not a number (${JSON.stringify(j[k])})`}`);
  for (const k of ['generatedAt', 'commit', 'node'] as const) if (typeof j[k] !== 'string') throw new Error(`${file}: field ${k} is missing or not a string`);
  if (!Array.isArray(j.samples)) throw new Error(`${file}: field samples is missing or not an array`);
  return j as unknown as SoakResult;
}

/** What an earlier soak left in `root` (the checkout), for the verdict; `source` says who wrote it. */
export function readSoak(root: string, source: 'run' | 'file'): SoakEntry {
  const file = path.join(root, SOAK_FILE);
  if (!fs.existsSync(file)) return { source: 'absent', file: SOAK_FILE };
  try {
    return { source, file: SOAK_FILE, result: parseSoak(fs.readFileSync(file, 'utf8'), SOAK_FILE) };
  } catch (err) {
    return { source, file: SOAK_FILE, error: (err as Error).message };
  }
}

/** Runs the soak for `minutes` (its own processes; nothing else of the suite runs meanwhile) and reads what it wrote. */
export async function runSoak(minutes: number, log: (line: string) => void, root = repoRoot()): Promise<SoakEntry> {
  const script = path.join(root, 'dist', 'bench', 'soak-memory.js');
  if (!fs.existsSync(script)) return { source: 'run', file: SOAK_FILE, error: 'bench/soak-memory.ts is not in this tree (dist/bench/soak-memory.js missing)' };
  const file = path.join(root, SOAK_FILE);
  const before = fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0;
  log(`memory soak: node dist/bench/soak-memory.js --minutes ${minutes} --write (about ${minutes + 2} min)`);
  // the soak samples for a minute after its load, and starts and stops its own setup
  // the suite pins itself to the load CPU; the soak pins its own processes, so it starts unpinned
  const cpus = os.cpus().length > 1 ? `0-${os.cpus().length - 1}` : '0';
  const r = await runTool('taskset', ['-c', cpus, process.execPath, script, '--minutes', String(minutes), '--write'], { timeoutMs: (minutes + 10) * 60_000 });
  const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ');
  if (r.timedOut) return { source: 'run', file: SOAK_FILE, error: `soak-memory exceeded ${minutes + 10} minutes` };
  if (r.code !== 0) return { source: 'run', file: SOAK_FILE, error: `soak-memory exited ${r.code}: ${tail}` };
  if (!fs.existsSync(file) || fs.statSync(file).mtimeMs === before) return { source: 'run', file: SOAK_FILE, error: `soak-memory did not write ${SOAK_FILE}` };
  log('memory soak done');
  return readSoak(root, 'run');
}
