/**
 * The network-namespace guard: a tiny process a `--netns` supervisor starts in its own session,
 * told the network over stdin (one JSON line: prefix, pod CIDR, state dir). When stdin closes
 * without `q` (the supervisor died, even by SIGKILL: the kernel closes its end of the pipe), it
 * removes every pod of the network whose owner is gone (their processes ended, namespaces, veths,
 * resolv.conf) and the network itself when no pod is left, then exits. `q` is a clean shutdown.
 */
import { NetnsNetwork, type NetnsNetworkOptions } from './netns-network.js';

let opts: NetnsNetworkOptions | undefined;
let buf = '';
let quit = false;

function cleanup(): void {
  if (quit) return;
  quit = true;
  if (opts) {
    // the supervisor's own orphan guard ends its children too; give it a moment first
    setTimeout(() => {
      try {
        new NetnsNetwork(opts).gc();
      } catch (err) {
        process.stderr.write(`clew netns guard: ${(err as Error).message}\n`);
      }
      process.exit(0);
    }, Number(process.env.CLEW_NETNS_GUARD_DELAY_MS ?? 500));
  } else process.exit(0);
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buf += chunk;
  let nl: number;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    if (line === 'q') {
      quit = true;
      process.exit(0);
    }
    if (line.startsWith('{')) opts = JSON.parse(line) as NetnsNetworkOptions;
  }
});
process.stdin.on('end', cleanup);
process.stdin.on('error', cleanup);
// our own session: terminal signals are not for us
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
