/**
 * A stand-in for `clew` in local-mode tests (via $CLEW_LOCAL_CLEW_BIN), so they do not depend on
 * the real proxy and control plane. `proxy` serves /healthz/ready on <address>:<ready-port>,
 * forwards each --port on <address> to its --app-port target, and with `--remap-port 80=P`
 * answers 200 on <address>:P (a gateway); `control-plane` serves /ready, /debug/root-cert and
 * token minting on --debug-port (and writes the admin token under --config-dir);
 * `demo` is the real command. It records its argv in $FAKE_CLEW_ARGS_FILE.
 * FAKE_PROXY_EXIT_AFTER_MS makes the proxy exit (code 3) after that long.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, request } from 'node:http';
import { Command } from 'commander';
import { register as registerDemo } from '../../src/cli/cmd-demo.js';

const argv = process.argv.slice(2);
if (process.env.FAKE_CLEW_ARGS_FILE) appendFileSync(process.env.FAKE_CLEW_ARGS_FILE, `${JSON.stringify(argv)}\n`);
if (argv[0] === 'demo') {
  const program = new Command().name('clew').exitOverride();
  registerDemo(program);
  await program.parseAsync(argv, { from: 'user' }).catch((err: Error & { exitCode?: number }) => {
    process.stderr.write(`clew: ${err.message}\n`);
    process.exit(err.exitCode ?? 1);
  });
} else if (argv[0] === 'control-plane') {
  const debugPort = Number(argv[argv.indexOf('--debug-port') + 1]);
  // the credential contract's surface: the admin token under the config dir, the root and tokens
  const configDir = argv[argv.indexOf('--config-dir') + 1];
  mkdirSync(join(configDir, '.clew', 'secrets'), { recursive: true, mode: 0o700 });
  writeFileSync(join(configDir, '.clew', 'secrets', 'admin-token'), 'fake-admin-token\n', { mode: 0o600 });
  createServer((req, res) => {
    if (req.url === '/ready') return res.writeHead(200).end('ok');
    if (req.url === '/debug/root-cert') return res.writeHead(200).end('-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n');
    if (req.url === '/apis/v1/workload-tokens' && req.method === 'POST' && req.headers.authorization === 'Bearer fake-admin-token') {
      req.resume();
      return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: 'fake-workload-token', expiresAt: new Date(Date.now() + 3600_000).toISOString() }));
    }
    res.writeHead(404).end('no');
  }).listen(debugPort, '127.0.0.1');
  console.log(`fake control plane up (pid ${process.pid})`);
} else if (argv[0] !== 'proxy') {
  process.stderr.write(`fake clew: unsupported ${argv[0]}\n`);
  process.exit(2);
} else {
  fakeProxy();
}

function fakeProxy(): void {
function flag(name: string): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (a === name && argv[i + 1] !== undefined) out.push(argv[i + 1]);
  });
  return out;
}
const address = flag('--address')[0];
const readyPort = Number(flag('--ready-port')[0]);
const appPorts = new Map(flag('--app-port').map((s) => {
  const [p, target] = s.split('=');
  return [Number(p), target] as const;
}));
createServer((req, res) => {
  res.writeHead(req.url === '/healthz/ready' ? 200 : 404).end('ok');
}).listen(readyPort, address);
for (const p of flag('--port').map(Number)) {
  const target = appPorts.get(p);
  if (!target) continue;
  const [host, port] = target.split(':');
  createServer((req, res) => {
    const up = request({ host, port: Number(port), path: req.url, method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, { ...ur.headers, 'x-fake-sidecar': '1' });
      ur.pipe(res);
    });
    up.on('error', () => res.writeHead(503).end('upstream connect error'));
    req.pipe(up);
  }).listen(p, address);
}
for (const remap of flag('--remap-port')) {
  const to = Number(remap.split('=')[1]);
  createServer((req, res) => res.writeHead(200).end('fake gateway')).listen(to, address);
}
console.log(`fake proxy on ${address} (pid ${process.pid})`);
const exitAfter = Number(process.env.FAKE_PROXY_EXIT_AFTER_MS ?? 0);
if (exitAfter > 0) setTimeout(() => process.exit(3), exitAfter);
process.on('SIGTERM', () => {
  console.log('fake proxy: SIGTERM');
  process.exit(0);
});
}
