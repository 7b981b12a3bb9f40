/**
 * `clew demo` in the foreground: start, print the summary, run until Ctrl-C/SIGTERM, then stop
 * everything (a control plane or proxy that dies meanwhile is restarted, see local-demo.ts). Also the body of the background supervisor that
 * `--detach` starts (it reports progress and readiness to its launcher over IPC).
 */
import { LocalConsole } from './local-console.js';
import { demoSummary, startDemo, type DemoOptions } from './local-demo.js';
import { netnsDemoSummary, startNetnsDemo } from './netns-demo.js';

/** Messages from the background supervisor to `clew demo --detach`. */
export type DetachMessage =
  | { t: 'status'; text?: string }
  | { t: 'info'; text: string }
  | { t: 'ready' }
  | { t: 'failed'; message: string };

export async function runDemo(opts: DemoOptions, con?: LocalConsole): Promise<number> {
  const ipc = opts.detached && typeof process.send === 'function';
  const send = (m: DetachMessage): void => {
    if (ipc && process.connected) process.send!(m);
  };
  const console = con ?? new LocalConsole(ipc ? {
    tty: false,
    onStatus: (text) => send({ t: 'status', text }),
    onInfo: (text) => send({ t: 'info', text }),
  } : {});
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => {};
  const woken = new Promise<void>((r) => (wake = r));
  const onSig = (sig: NodeJS.Signals): void => {
    if (!signalled) console.info(`clew demo: ${sig}, stopping everything`);
    signalled ??= sig;
    wake();
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of sigs) process.on(s, onSig);
  // the launcher going away must not end a detached demo
  if (ipc) process.on('disconnect', () => {});
  try {
    let handle;
    try {
      const o = { ...opts, abort: () => (signalled ? `interrupted by ${signalled}` : undefined) };
      handle = opts.netns ? await startNetnsDemo(o, opts.netns, console) : await startDemo(o, console);
    } catch (err) {
      const message = (err as Error).message;
      send({ t: 'failed', message });
      if (!ipc) console.info(`clew demo: ${message}`);
      return 1;
    }
    for (const l of opts.netns ? netnsDemoSummary(handle.state) : demoSummary(handle.state, opts)) console.info(l);
    send({ t: 'ready' });
    if (ipc && process.connected) process.disconnect();
    await woken;
    await handle.stop();
    console.info('clew demo: stopped');
    return 0;
  } finally {
    for (const s of sigs) process.off(s, onSig);
  }
}
