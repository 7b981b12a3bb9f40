/**
 * The per-user directory holding local-mode state: address leases and the demo state file.
 * $CLEW_STATE_DIR wins (tests isolate themselves with it), then $XDG_RUNTIME_DIR/clew, then
 * <tmpdir>/clew-<uid>. Created with mode 0700 so other users cannot tamper with leases.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function localStateDir(env: NodeJS.ProcessEnv = process.env): string {
  let dir: string;
  if (env.CLEW_STATE_DIR) dir = env.CLEW_STATE_DIR;
  else if (env.XDG_RUNTIME_DIR) dir = join(env.XDG_RUNTIME_DIR, 'clew');
  else dir = join(tmpdir(), `clew-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
