import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

/**
 * Clew runs on Node's public API only: no legacy `process.binding()` modules (DEP0111, gone in
 * Node 24), no internal bindings, no private fields of net.Socket (`_handle` and friends), and no
 * silencing of the warnings that would tell a user otherwise. No exceptions: transparent capture,
 * which needs a socket's descriptor for SO_ORIGINAL_DST, gets it from the native addon that
 * accepts the connection (src/capture/capture-listener.ts), not from net's handle.
 */
const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bprocess\b.*(\.\s*binding\b|\[\s*['"]binding['"]\s*\])|\bbinding\s*\(\s*['"](http_parser|stream_wrap|tcp_wrap|pipe_wrap|uv|fs)['"]/, 'process.binding()'],
  [/\binternalBinding\b/, 'internalBinding'],
  [/\bexpose[-_]internals\b/, '--expose-internals'],
  [/\._handle\b|\[\s*['"]_handle['"]\s*\]|\b_handle\s*[?]?:/, 'a private _handle field'],
  [/\bDEP0111\b/, 'DEP0111'],
  [/\bemitWarning\s*=/, 'replacing process.emitWarning'],
  [/\bno-deprecation\b|\bnoDeprecation\b/, 'silencing deprecations'],
  [/\bWriteWrap\b|\bstreamBaseState\b|\bkReadBytesOrError\b/, "net's internal write/read state"],
];

function sources(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

test('src/ uses no process.binding, no private _handle fields and no DEP0111 silencing', () => {
  const files = sources(path.join(REPO_ROOT, 'src'));
  assert.ok(files.length > 100, `found only ${files.length} source files`);
  const hits: string[] = [];
  for (const f of files) {
    const lines = fs.readFileSync(f, 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const [re, what] of FORBIDDEN) if (re.test(line)) hits.push(`${path.relative(REPO_ROOT, f)}:${i + 1}: ${what}: ${line.trim()}`);
    });
  }
  assert.deepEqual(hits, []);
});

test('the forbidden patterns catch what they are meant to', () => {
  const caught = (s: string) => FORBIDDEN.filter(([re]) => re.test(s)).map(([, what]) => what);
  assert.deepEqual(caught("process.binding('http_parser')"), ['process.binding()']);
  assert.deepEqual(caught("(process as any)['binding']('stream_wrap')"), ['process.binding()']);
  assert.deepEqual(caught('(process as unknown as { binding(name: string): T }).binding(name)'), ['process.binding()']);
  assert.deepEqual(caught("legacy('x'); b.binding('http_parser')"), ['process.binding()']);
  assert.deepEqual(caught("process['binding']('stream_wrap')"), ['process.binding()']);
  assert.deepEqual(caught('const h = socket._handle;'), ['a private _handle field']);
  assert.deepEqual(caught('type S = { _handle?: Handle };'), ['a private _handle field']);
  assert.deepEqual(caught('process.emitWarning = () => undefined;'), ['replacing process.emitWarning']);
  assert.deepEqual(caught('socket.write(data)'), []);
});
