/**
 * Runs a fuzz target (a fast-check property) either briefly with a fixed seed (inside `npm test`)
 * or for a while from the command line:
 *
 *   node dist/test/fuzz/fuzz-route-regex.js --minutes 10 [--seed N]
 *   node dist/test/fuzz/fuzz-access-log-format.js --minutes 10 [--seed N]
 *
 * Every input of the target's corpus (test/fuzz/corpus/<name>.txt, one JSON string per line) is
 * run first. A failure prints fast-check's shrunk counterexample and the seed to replay it;
 * add the counterexample to the corpus once it is fixed. A single input taking more than
 * SLOW_MS (1 s) of CPU is a failure: the targets are meant to run in linear time.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SLOW_MS = 1000;

export interface FuzzTarget<T> {
  name: string;
  /** the generated inputs */
  arbitrary: fc.Arbitrary<T>;
  /** turns a corpus line (parsed JSON) into an input */
  fromCorpus(value: unknown): T;
  /** throws on a violated property */
  check(input: T): void;
}

export interface FuzzResult {
  inputs: number;
  corpus: number;
  ms: number;
  seed: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** test/fuzz/corpus in the source tree (dist/test/fuzz -> test/fuzz) */
export const CORPUS_DIR = path.resolve(here, '../../../test/fuzz/corpus');

export function loadCorpus(name: string): unknown[] {
  const file = path.join(CORPUS_DIR, `${name}.txt`);
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#')).map((l) => JSON.parse(l) as unknown);
}

/**
 * One input through the property, with the time limit. CPU time, not wall time: on a shared
 * machine a fine input can wait for a core for seconds, while a hang burns CPU.
 */
function timed<T>(t: FuzzTarget<T>, input: T): void {
  const c0 = process.cpuUsage();
  t.check(input);
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  if (ms > SLOW_MS) throw new Error(`${t.name}: one input took ${ms.toFixed(0)} ms of CPU (limit ${SLOW_MS})`);
}

export function runFuzz<T>(t: FuzzTarget<T>, opts: { seed: number; runs?: number; minutes?: number }): FuzzResult {
  const start = performance.now();
  const corpus = loadCorpus(t.name);
  for (const c of corpus) timed(t, t.fromCorpus(c));
  let inputs = 0;
  const prop = fc.property(t.arbitrary, (input) => {
    inputs++;
    timed(t, input);
  });
  const params: fc.Parameters<[T]> = { seed: opts.seed };
  if (opts.minutes !== undefined) {
    params.numRuns = Number.MAX_SAFE_INTEGER;
    params.interruptAfterTimeLimit = opts.minutes * 60_000;
    params.markInterruptAsFailure = false;
  } else params.numRuns = opts.runs ?? 200;
  fc.assert(prop, params);
  return { inputs, corpus: corpus.length, ms: performance.now() - start, seed: opts.seed };
}

/** The command-line entry of a target module. */
export function fuzzMain<T>(t: FuzzTarget<T>, argv = process.argv.slice(2)): void {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const minutes = arg('--minutes') === undefined ? undefined : Number(arg('--minutes'));
  const runs = arg('--runs') === undefined ? undefined : Number(arg('--runs'));
  const seed = arg('--seed') === undefined ? Date.now() % 2 ** 31 : Number(arg('--seed'));
  console.log(`${t.name}: seed ${seed}, ${minutes !== undefined ? `${minutes} min` : `${runs ?? 200} runs`}`);
  const r = runFuzz(t, { seed, runs, minutes: minutes ?? (runs === undefined ? 1 : undefined) });
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  console.log(`${t.name}: ${r.inputs} generated inputs + ${r.corpus} corpus inputs in ${(r.ms / 1000).toFixed(1)} s (${((cpu.user + cpu.system) / 1e6).toFixed(0)} s of CPU), no failure (seed ${r.seed}; heap ${(mem.heapUsed / 1048576).toFixed(0)} MB, rss ${(mem.rss / 1048576).toFixed(0)} MB)`);
}

export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(url);
}
