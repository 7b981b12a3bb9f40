/**
 * Regenerates src/xds/envoy-descriptor.json from the .proto files (after a change of PROTO_FILES
 * or of @grpc/grpc-js-xds): `npx tsc -p . && node dist/src/xds/proto-descriptor-write.js`.
 * test/xds/proto-descriptor.test.ts fails while the committed file is stale.
 */
import * as fs from 'node:fs';
import { DESCRIPTOR_FILE } from './proto-root.js';
import { compactDescriptor, descriptorText } from './proto-descriptor.js';
import { loadProtoFiles } from './proto-files.js';

const text = descriptorText(compactDescriptor(loadProtoFiles()));
fs.writeFileSync(DESCRIPTOR_FILE, text);
process.stdout.write(`wrote ${DESCRIPTOR_FILE} (${Math.round(text.length / 1024)} KiB)\n`);
