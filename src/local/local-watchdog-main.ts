/**
 * The orphan guard: a tiny process a supervisor starts in its own session, talking to it over
 * stdin. The supervisor registers each child's process group (`+PID`, `-PID`), files to
 * remove (`fPATH`, `uPATH`) and directories to remove with their contents (`dPATH`, `ePATH`). When stdin closes while groups are still registered (the supervisor
 * died, even by SIGKILL: the kernel closes its end of the pipe), the guard terminates those
 * groups (SIGTERM, then SIGKILL after a grace period), removes the files, and exits. `q` is a
 * clean shutdown: exit without touching anything.
 */
import { rmSync, unlinkSync } from 'node:fs';

const groups = new Set<number>();
const files = new Set<string>();
const dirs = new Set<string>();
const graceMs = Number(process.env.CLEW_WATCHDOG_GRACE_MS ?? 3000);

function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

function handle(line: string): void {
  const op = line[0];
  const arg = line.slice(1);
  if (op === '+') groups.add(Number(arg));
  else if (op === '-') groups.delete(Number(arg));
  else if (op === 'f') files.add(arg);
  else if (op === 'u') files.delete(arg);
  else if (op === 'd') dirs.add(arg);
  else if (op === 'e') dirs.delete(arg);
  else if (op === 'q') process.exit(0); // clean shutdown of the supervisor: nothing to guard
}

let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buf += chunk;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    handle(buf.slice(0, nl));
    buf = buf.slice(nl + 1);
  }
});

function orphaned(): void {
  const pending = [...groups].filter((g) => signalGroup(g, 'SIGTERM'));
  const deadline = Date.now() + graceMs;
  const tick = (): void => {
    const alive = pending.filter((g) => signalGroup(g, 0 as unknown as NodeJS.Signals));
    if (alive.length === 0 || Date.now() >= deadline) {
      for (const g of alive) signalGroup(g, 'SIGKILL');
      for (const f of files) {
        try {
          unlinkSync(f);
        } catch {
          /* gone */
        }
      }
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      process.exit(0);
    }
    setTimeout(tick, 50);
  };
  tick();
}

process.stdin.on('end', orphaned);
process.stdin.on('error', orphaned);
// Our own session: terminal signals are not for us, the supervisor forwards what matters.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
