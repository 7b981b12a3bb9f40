/**
 * Files that hold secrets: written atomically (temp file + rename) with mode 0600 in directories
 * of mode 0700, as the contract for `<config-dir>/.clew/secrets/` asks. Public files (the root
 * certificate for clients) are written the same way with mode 0644.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to directories it creates; an existing one is tightened too
  fs.chmodSync(dir, 0o700);
}

export function writeFileAtomic(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

export function writeSecretFile(file: string, data: string | Buffer): void {
  ensurePrivateDir(path.dirname(file));
  writeFileAtomic(file, data, 0o600);
}

export function writePublicFile(file: string, data: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, data, 0o644);
}
