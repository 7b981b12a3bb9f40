/**
 * Preloaded into a profiled sidecar by `profile-sidecar.js --alloc` (`node --import`): runs V8's
 * sampling heap profiler with the samples of objects already collected kept (node's --heap-prof
 * drops them, which hides short-lived garbage: the very thing to find), and writes the profile
 * to $CLEW_ALLOC_PROFILE when the process exits.
 */
import * as fs from 'node:fs';
import { Session } from 'node:inspector';

const out = process.env.CLEW_ALLOC_PROFILE;
if (out) {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const write = (): void => {
    session.post('HeapProfiler.stopSampling', (err, res) => {
      if (!err) fs.writeFileSync(out, JSON.stringify((res as { profile: unknown }).profile));
    });
  };
  // the sidecar exits on SIGTERM after draining; write before it goes
  process.once('SIGTERM', write);
  process.once('beforeExit', write);
}
