/** Loading files and directories (recursively, *.yaml and *.yml) through parseConfigText. */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfigText, type LoadResult, type ParseOptions } from './load-parse.js';

/** A path given to loadConfigPaths does not exist or cannot be read. */
export class ConfigPathError extends Error {
  readonly code = 'CLEW_CONFIG_PATH';
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'ConfigPathError';
  }
}

const YAML_FILE = /\.ya?ml$/i;

async function listYamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listYamlFiles(p)));
    else if (e.isFile() && YAML_FILE.test(e.name)) out.push(p);
  }
  return out;
}

/** Files are named as the caller wrote them (relative stays relative). */
export async function loadConfigPaths(paths: string[], opts: ParseOptions = {}): Promise<LoadResult> {
  const files: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new ConfigPathError(p, 'no such file or directory');
    }
    if (st.isDirectory()) files.push(...(await listYamlFiles(p)));
    else files.push(p);
  }
  const result: LoadResult = { resources: [], ignored: [], messages: [], files };
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (err) {
      throw new ConfigPathError(f, (err as Error).message);
    }
    const r = parseConfigText(text, f, opts);
    result.resources.push(...r.resources);
    result.ignored.push(...r.ignored);
    result.messages.push(...r.messages);
  }
  return result;
}
