/**
 * A control plane whose start fails part-way (here: the TLS port is taken) closes what it had
 * already opened. Before, the bound ADS port stayed open and kept the process alive, so a test
 * file that hit EADDRINUSE hung instead of failing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlPlane } from '../../src/control-plane/control-plane.js';

function listenFree(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(false); });
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

test('a start that fails on a taken TLS port rejects and leaves the ADS port it had bound closed', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clew-cp-start-'));
  const taken = await listenFree();
  const adsHolder = await listenFree();
  const adsPort = (adsHolder.address() as net.AddressInfo).port;
  await new Promise<void>((r) => adsHolder.close(() => r()));
  const cp = new ControlPlane({
    configDir: dir, xdsPort: adsPort, secureXdsPort: (taken.address() as net.AddressInfo).port, debugPort: 0, publishToken: false, log: () => {},
  });
  try {
    await assert.rejects(cp.start(), /EADDRINUSE|address already in use|No address added/i);
    assert.equal(cp.isReady(), false);
    assert.equal(await refused(adsPort), true, 'the ADS port bound before the failure is closed again');
  } finally {
    await new Promise<void>((r) => taken.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
