/** `clew apply -f PATH`: validate and store configuration in the control plane. */
import type { Command } from 'commander';
import { callControlPlane, DEFAULT_CONTROL_PLANE, type CallOptions } from './control-plane-client.js';
import { CliError } from './errors.js';
import { qualifiedName } from './kinds.js';
import { readInputs } from './read-inputs.js';
import { collect } from './cli-options.js';
import { API_PATHS } from '../api/api-paths.js';
import type { ApiError, ApplyRejected, ApplyResponse } from '../api/api-types.js';

export async function sendFiles(
  endpoint: 'apply' | 'delete',
  base: string,
  paths: string[] | undefined,
  out: (s: string) => void,
  call: CallOptions = {},
): Promise<boolean> {
  let ok = true;
  for (const f of readInputs(paths)) {
    const res = await callControlPlane<Partial<ApplyResponse & ApplyRejected> & Partial<ApiError>>(
      base, 'POST', `${API_PATHS[endpoint]}?file=${encodeURIComponent(f.name)}`, f.text, call,
    );
    if (res.status === 200) {
      for (const r of res.body.results ?? []) out(`${qualifiedName(r.kind, r.name)} ${r.action}\n`);
      for (const w of res.body.warnings ?? []) process.stderr.write(`${w.text}\n`);
      for (const i of res.body.ignored ?? []) process.stderr.write(`note: ${i.text}\n`);
      continue;
    }
    ok = false;
    if (res.body.messages) {
      process.stderr.write(`error: ${f.name} was refused, nothing was changed:\n`);
      for (const m of res.body.messages) process.stderr.write(`${m.text}\n`);
    } else {
      process.stderr.write(`error: ${f.name}: ${res.body.error ?? `HTTP ${res.status}`}\n`);
    }
  }
  return ok;
}

export function register(program: Command): void {
  program
    .command('apply')
    .description('validate configuration and apply it to the control plane (invalid config changes nothing)')
    .option('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', collect)
    .option('--control-plane <url>', 'control-plane debug URL', DEFAULT_CONTROL_PLANE)
    .option('--token-file <file>', "the control plane's admin token (default: $CLEW_CONTROL_PLANE_TOKEN, then the token the control plane published for this user)")
    .action(async (opts) => {
      const ok = await sendFiles('apply', opts.controlPlane, opts.filename, (s) => process.stdout.write(s), { tokenFile: opts.tokenFile });
      if (!ok) throw new CliError('apply failed', 1);
    });
}
