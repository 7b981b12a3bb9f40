/** Reads `-f` arguments: files, directories (their *.yaml / *.yml, recursively) or `-` (stdin). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from './errors.js';

export interface InputFile {
  name: string;
  text: string;
}

function walk(dir: string, out: string[]): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (/\.ya?ml$/i.test(e.name)) out.push(p);
  }
}

export function readInputs(paths: string[] | undefined): InputFile[] {
  if (!paths || paths.length === 0) throw new UsageError('no input: give -f FILE, -f DIR or -f -');
  const out: InputFile[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ name: 'stdin', text: fs.readFileSync(0, 'utf8') });
      continue;
    }
    if (!fs.existsSync(p)) throw new UsageError(`${p}: no such file or directory`);
    if (fs.statSync(p).isDirectory()) {
      const files: string[] = [];
      walk(p, files);
      for (const f of files) out.push({ name: f, text: fs.readFileSync(f, 'utf8') });
    } else {
      out.push({ name: p, text: fs.readFileSync(p, 'utf8') });
    }
  }
  return out;
}
