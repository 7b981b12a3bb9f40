/**
 * `clew demo --detach`: starts the demo supervisor as a background process (its own session,
 * output to a log file), shows its progress, and returns once it is ready (exit 0) or failed.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { LocalConsole } from './local-console.js';
import { clewCommand } from './local-clew-bin.js';
import { checkDemoCanStart, type DemoOptions } from './local-demo.js';
import type { DetachMessage } from './local-demo-run.js';
import { demoLogPath } from './local-demo-state.js';
import { LocalError } from './local-errors.js';
import { netnsDemoArgs } from './netns-demo.js';

export async function detachDemo(opts: DemoOptions, con = new LocalConsole()): Promise<number> {
  if (!opts.netns) await checkDemoCanStart(opts); // fail fast, here, with the clear message
  const logFile = opts.logFile ?? demoLogPath(opts.stateDir);
  const fd = openSync(logFile, 'w', 0o600);
  const args = [
    'demo', '--supervise',
    '--gateway-port', String(opts.gatewayPort),
    '--xds-port', String(opts.xdsPort),
    '--secure-xds-port', String(opts.secureXdsPort),
    '--debug-port', String(opts.debugPort),
    '--dashboard-port', String(opts.dashboardPort ?? 0),
    '--ready-timeout', String(Math.round(opts.readyTimeoutMs / 1000)),
    '--log-file', logFile,
    ...(opts.configDir ? ['--config-dir', opts.configDir] : []),
    ...(opts.meshConfig ? ['--mesh-config', opts.meshConfig] : []),
    ...(opts.podAddressing ? ['--pod-addressing', opts.podAddressing] : []),
    ...(opts.netns ? netnsDemoArgs(opts.netns) : []),
  ];
  const cmd = clewCommand(args);
  const child = spawn(cmd.command, cmd.args, {
    detached: true,
    stdio: ['ignore', fd, fd, 'ipc'],
    env: opts.stateDir ? { ...process.env, CLEW_STATE_DIR: opts.stateDir } : process.env,
  });
  closeSync(fd);
  return await new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (code: number, err?: Error): void => {
      if (settled) return;
      settled = true;
      con.setStatus(undefined);
      if (child.connected) child.disconnect();
      child.unref();
      if (err) reject(err);
      else resolve(code);
    };
    child.on('message', (m: DetachMessage) => {
      if (m.t === 'status') con.setStatus(m.text);
      else if (m.t === 'info') con.info(m.text);
      else if (m.t === 'ready') {
        con.info(`The demo runs in the background (pid ${child.pid}); its output goes to ${logFile}`);
        finish(0);
      } else if (m.t === 'failed') {
        finish(1, new LocalError('CLEW_LOCAL_CHILD_EXITED', `${m.message} (log: ${logFile})`));
      }
    });
    child.on('exit', (code, signal) => {
      finish(1, new LocalError('CLEW_LOCAL_CHILD_EXITED', `the demo supervisor exited before it was ready (${signal ?? code}); log: ${logFile}`));
    });
    child.on('error', (err) => finish(1, err));
  });
}
