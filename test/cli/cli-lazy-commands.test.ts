/**
 * `clew proxy` loads the proxy command alone: none of the control plane, config validation or
 * gRPC library code ends up in the sidecar process. Other commands and help still see them all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { COMMANDS, commandsFor } from '../../src/cli/commands.js';

test('the first argument selects one command module; help, options and typos get every command, in help order', () => {
  assert.deepEqual(commandsFor(['node', 'clew', 'proxy', '--xds-address', 'x']).map((c) => c.name), ['proxy']);
  assert.deepEqual(commandsFor(['node', 'clew', 'proxy-status']).map((c) => c.name), ['proxy-status']);
  assert.equal(commandsFor(['node', 'clew', '--help']), COMMANDS);
  assert.equal(commandsFor(['node', 'clew', 'proxyy']), COMMANDS);
  assert.equal(commandsFor(['node', 'clew']), COMMANDS);
  assert.equal(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length);
});

/** The CommonJS packages a `clew ...` run has loaded when it exits. */
function loadedBy(args: string[]): { packages: string[] } {
  const main = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    process.on('exit', () => {
      const packages = [...new Set(Object.keys(require('node:module')._cache)
        .map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(f)?.[1]).filter(Boolean))];
      process.stderr.write('\\n@@' + JSON.stringify({ packages }) + '\\n');
    });
    const { main } = await import(${JSON.stringify(main)});
    await main(${JSON.stringify(['node', 'clew', ...args])});
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  const line = r.stderr.split('\n').find((l) => l.startsWith('@@'));
  assert.ok(line, `no report from the child: ${r.stderr}`);
  return { packages: JSON.parse(line.slice(2)).packages };
}

test('clew proxy does not load the control plane (yaml) or @grpc/grpc-js; clew validate does load yaml', () => {
  const proxy = loadedBy(['proxy', '--help']);
  assert.ok(proxy.packages.includes('commander'), `commander is loaded: ${proxy.packages}`);
  assert.ok(!proxy.packages.includes('yaml'), `yaml loaded by clew proxy: ${proxy.packages}`);
  assert.ok(!proxy.packages.includes('@grpc/grpc-js'), `@grpc/grpc-js loaded by clew proxy: ${proxy.packages}`);
  const validate = loadedBy(['validate', '--help']);
  assert.ok(validate.packages.includes('yaml'), `the check sees what a command loads: ${validate.packages}`);
});
