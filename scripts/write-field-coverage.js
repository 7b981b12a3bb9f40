#!/usr/bin/env node
// Writes docs/field-coverage.md from the schema code (run after `npm run build`).
// test/config/field-coverage.test.ts fails when the committed file differs from this output.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderFieldCoverage } from '../dist/src/config/field-coverage.js';

const target = fileURLToPath(new URL('../docs/field-coverage.md', import.meta.url));
writeFileSync(target, renderFieldCoverage());
console.log(`wrote ${target}`);
