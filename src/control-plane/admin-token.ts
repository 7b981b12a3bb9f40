/**
 * The admin token (issue 23 item 7; credential contract in helper-contracts): a random token the
 * control plane creates on first start and keeps in `<config-dir>/.clew/secrets/admin-token`
 * (dir 0700, file 0600). It is also published for local CLI clients of the same user in
 * `<localStateDir()>/control-plane/<host>_<port>.token` (0600), keyed by the debug/API listen
 * address, so `clew apply` finds it with no flag. Every write to the API needs it.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localStateDir } from '../local/local-state-dir.js';

const TOKEN_BYTES = 32;

export function secretsDir(configDir: string): string {
  return path.join(configDir, '.clew', 'secrets');
}

/** Reads the admin token, creating it (and the secrets dir) on first start. */
export function loadOrCreateAdminToken(configDir: string): string {
  const dir = secretsDir(configDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const file = path.join(dir, 'admin-token');
  try {
    const existing = fs.readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) {
      fs.chmodSync(file, 0o600);
      return existing;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  writePrivate(file, `${token}\n`);
  return token;
}

/** Writes a 0600 file atomically (created with the mode, so it is never readable by others). */
function writePrivate(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

/** `127.0.0.1_15014.token`; IPv6 brackets and colons become safe characters. */
export function tokenFileName(host: string, port: number): string {
  return `${host.replace(/^\[|\]$/g, '').replace(/[^A-Za-z0-9.-]/g, '_')}_${port}.token`;
}

export function publishedTokenDir(env: NodeJS.ProcessEnv = process.env): string {
  const dir = path.join(localStateDir(env), 'control-plane');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Publishes the token for local clients; returns the file (removed again by unpublish). */
export function publishAdminToken(token: string, host: string, port: number): string {
  const file = path.join(publishedTokenDir(), tokenFileName(host, port));
  writePrivate(file, `${token}\n`);
  return file;
}

/** Removes a published token file if it is still ours (another control plane may own the port now). */
export function unpublishAdminToken(file: string, token: string): void {
  try {
    if (fs.readFileSync(file, 'utf8').trim() === token) fs.rmSync(file, { force: true });
  } catch {
    // already gone
  }
}
