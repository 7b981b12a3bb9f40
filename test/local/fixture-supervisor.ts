/**
 * A supervisor parent for tests: starts two children (one of which starts a grandchild in its
 * group), prints {"pids":[...]} once they run, stops everything on SIGINT/SIGTERM (exit 0).
 */
import { Supervisor } from '../../src/local/local-supervisor.js';
import { LocalConsole } from '../../src/local/local-console.js';

const sup = new Supervisor({ console: new LocalConsole({ tty: false }) });
const sleeper = 'console.log("child " + process.pid + " up"); setInterval(() => {}, 1000)';
const a = sup.spawn({ name: 'alpha', command: process.execPath, args: ['-e', sleeper] });
const parentOfGrandchild = `
const { spawn } = require('node:child_process');
const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
console.log('grandchild ' + g.pid);
setInterval(() => {}, 1000);`;
// a directory the guard removes if this process dies outright (like a demo's temporary config dir)
if (process.env.CLEW_TEST_GUARD_DIR) sup.guardDir(process.env.CLEW_TEST_GUARD_DIR);
const b = sup.spawn({ name: 'beta', command: process.execPath, args: ['-e', parentOfGrandchild] });
sup.onSignals(() => {
  void sup.stop(3000).then(() => process.exit(0));
});
// wait until both children printed (their output is forwarded through our stdout)
setTimeout(() => process.stdout.write(`${JSON.stringify({ pids: [a.pid, b.pid], guard: sup.guardPid })}\n`), 400);
setInterval(() => {}, 1000);
