#!/usr/bin/env -S node --max-semi-space-size=32
// Entry point of the `clew` command: runs the compiled CLI (built by `npm ci` through `prepare`).
// The node flag gives sidecars a 32 MiB young generation (see src/cli/proxy-heap.ts).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`clew: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
});
