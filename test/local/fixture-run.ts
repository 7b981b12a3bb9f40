/** Runs `runPod` from argv JSON (the `clew run` body without the CLI) and exits with its code. */
import { runPod } from '../../src/local/local-run.js';
import { LocalConsole } from '../../src/local/local-console.js';

const spec = JSON.parse(process.argv[2]);
const code = await runPod(spec, { console: new LocalConsole({ tty: false }), readyTimeoutMs: 10_000 });
process.exit(code);
