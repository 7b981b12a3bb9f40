/** Allocates $N addresses (CLEW_STATE_DIR), prints them as JSON, holds them until stdin ends. */
import { allocateAddress } from '../../src/local/local-address.js';

const n = Number(process.env.N ?? 10);
const got: string[] = [];
for (let i = 0; i < n; i++) got.push((await allocateAddress({ owner: `fixture-${process.pid}` })).address);
process.stdout.write(`${JSON.stringify(got)}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
