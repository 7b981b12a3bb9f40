import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { callgrindByObject, callgrindTotal, closedLoop } from '../../bench/instructions.js';

// the shape of a callgrind dump without compressed names: self cost lines, and after `calls=`
// the inclusive cost of that call (which is not self cost)
const DUMP = `# callgrind format
version: 1
events: Ir
summary: 1500

ob=/usr/bin/node
fl=???
fn=Builtins_KeyedLoadIC_Megamorphic
0 700
cob=/usr/lib/libc.so.6
cfn=malloc
calls=2 0
0 300

ob=/usr/lib/libc.so.6
fn=malloc
0 300

ob=???
fn=0x000000000d171dc0
0 500
`;

test('callgrind dump: total and self cost by object file', () => {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cg-')), 'cg.out');
  fs.writeFileSync(f, DUMP);
  assert.equal(callgrindTotal(f), 1500);
  assert.deepEqual(callgrindByObject(f), [['/usr/bin/node', 700], ['???', 500], ['/usr/lib/libc.so.6', 300]]);
});

test('closedLoop sends exactly the requested number over keep-alive connections', async () => {
  let served = 0;
  const sockets = new Set<unknown>();
  const srv = http.createServer((req, res) => {
    served++;
    sockets.add(req.socket);
    assert.equal(req.headers.host, 'svc:8000');
    res.end('hello');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const r = await closedLoop(`http://127.0.0.1:${port}/`, 'svc:8000', 25, 4);
  srv.close();
  assert.deepEqual(r, { ok: 25, failed: 0 });
  assert.equal(served, 25);
  assert.equal(sockets.size, 4);
});
