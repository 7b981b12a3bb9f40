#!/usr/bin/env node
// npm's install script: builds the optional N-API addon native/original-dst (SO_ORIGINAL_DST,
// IP_TRANSPARENT for transparent capture) with node-gyp against the headers of the running Node
// (<prefix>/include/node, or npm_config_nodedir), never downloading anything. Without Linux, a
// compiler or the headers it prints why and succeeds: the addon is optional (local mode and
// everything but capture work without it).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dir = join(root, 'native', 'original-dst');

function skip(why) {
  process.stderr.write(`clew: native/original-dst not built (${why}); transparent capture (clew iptables, --netns) needs it, everything else works without it\n`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`${process.platform}: capture is Linux only`);
if (process.env.CLEW_SKIP_NATIVE === '1') skip('CLEW_SKIP_NATIVE=1');

const candidates = [process.env.npm_config_nodedir, dirname(dirname(process.execPath))].filter(Boolean);
const nodedir = candidates.find((d) => existsSync(join(d, 'include', 'node', 'node_api.h')));
if (!nodedir) skip(`no Node headers in ${candidates.map((d) => join(d, 'include', 'node')).join(' or ')}; set npm_config_nodedir`);

// npm puts its bundled node-gyp in npm_config_node_gyp (and on PATH) for lifecycle scripts
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp && existsSync(gyp) ? [process.execPath, [gyp]] : ['node-gyp', []];
const r = spawnSync(cmd, [...args, 'rebuild', `--nodedir=${nodedir}`], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
if (r.error || r.status !== 0) {
  process.stderr.write(r.stderr ?? '');
  skip(r.error ? `${cmd}: ${r.error.message}` : `node-gyp exited with ${r.status}`);
}
