/**
 * Load generators of the suite, each run pinned to the load CPU with a hard time bound, and
 * their output parsed: wrk (throughput), hey (fixed rate, as the issue names it; its latencies
 * are printed in 0.1 ms steps), fixed-rate-load.ts (fixed rate, µs latencies) and h2load
 * (HTTP/2 and gRPC).
 */
import * as path from 'node:path';
import { runTool } from './bench-proc.js';
import { repoRoot } from './bench-util.js';

export interface Endpoint {
  url: string;
  /** Host header / :authority; default the URL's */
  host?: string;
  /** more request headers (an Authorization bearer token, ...), sent on every request */
  headers?: Record<string, string>;
}

/** `name: value` lines of the endpoint's extra headers, for the tools' -H flags. */
function headerLines(ep: Endpoint): string[] {
  return Object.entries(ep.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
}

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number };
  non2xx: number;
  socketErrors: number;
}

export interface RateResult {
  tool: 'hey' | 'fixed-rate-load';
  requests: number;
  rps: number;
  /** microseconds */
  p50: number;
  p90: number;
  p99: number;
  errors: number;
}

export interface H2Result {
  requests: number;
  succeeded: number;
  failed: number;
  rps: number;
  meanMs: number;
}

function toMs(value: string, unit: string): number {
  const v = Number(value);
  if (unit === 'us') return v / 1000;
  if (unit === 's') return v * 1000;
  if (unit === 'm') return v * 60_000;
  return v;
}

export function parseWrk(out: string): WrkResult {
  const m = /(\d+) requests in ([\d.]+)(m?s)/.exec(out);
  if (!m) throw new Error(`cannot parse wrk output: ${out.slice(0, 400)}`);
  const requests = Number(m[1]);
  const seconds = m[3] === 'ms' ? Number(m[2]) / 1000 : Number(m[2]);
  const lat = (p: string) => {
    const l = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return l ? toMs(l[1], l[2]) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = se ? Number(se[1]) + Number(se[2]) + Number(se[3]) + Number(se[4]) : 0;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? requests / seconds);
  return { requests, seconds, rps, latencyMs: { p50: lat('50'), p90: lat('90'), p99: lat('99') }, non2xx, socketErrors };
}

export function parseHey(out: string): RateResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}% in ([\\d.]+) secs`, 'm').exec(out);
    return m ? Number(m[1]) * 1e6 : NaN;
  };
  let ok = 0;
  let other = 0;
  for (const m of out.matchAll(/\[(\d+)\]\s+(\d+) responses/g)) {
    if (m[1].startsWith('2')) ok += Number(m[2]);
    else other += Number(m[2]);
  }
  let errors = other;
  const errSection = out.split('Error distribution:')[1];
  if (errSection) for (const m of errSection.matchAll(/\[(\d+)\]/g)) errors += Number(m[1]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  return { tool: 'hey', requests: ok + other, rps, p50: pct('50'), p90: pct('90'), p99: pct('99'), errors };
}

export function parseH2load(out: string): H2Result {
  const fin = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (!fin || !req) throw new Error(`cannot parse h2load output: ${out.slice(0, 400)}`);
  const t = /time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)/.exec(out);
  return {
    requests: Number(req[3]),
    succeeded: Number(req[4]),
    failed: Number(req[5]) + Number(req[6]) + Number(req[7]),
    rps: Number(fin[3]),
    meanMs: t ? toMs(t[1], t[2]) : NaN,
  };
}

function check(name: string, r: { code: number | null; timedOut: boolean; stderr: string; stdout: string }): void {
  if (r.timedOut) throw new Error(`${name} exceeded its time bound`);
  if (r.code !== 0) throw new Error(`${name} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
}

export async function runWrk(bin: string, ep: Endpoint, opts: { cpu?: number; seconds: number; connections: number }): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', '--timeout', '5s'];
  if (ep.host) args.push('-H', `Host: ${ep.host}`);
  for (const h of headerLines(ep)) args.push('-H', h);
  args.push(ep.url);
  const r = await runTool(bin, args, { cpu: opts.cpu, timeoutMs: (opts.seconds + 20) * 1000 });
  check('wrk', r);
  return parseWrk(r.stdout);
}

export async function runHey(bin: string, ep: Endpoint, opts: { cpu?: number; seconds: number; rps: number; connections: number }): Promise<RateResult> {
  // -q is per worker
  const args = ['-c', String(opts.connections), '-q', String(opts.rps / opts.connections), '-z', `${opts.seconds}s`, '-t', '5'];
  if (ep.host) args.push('-host', ep.host);
  for (const h of headerLines(ep)) args.push('-H', h);
  args.push(ep.url);
  const r = await runTool(bin, args, { cpu: opts.cpu, timeoutMs: (opts.seconds + 20) * 1000 });
  check('hey', r);
  return parseHey(r.stdout);
}

export async function runFixedRate(ep: Endpoint, opts: { cpu?: number; seconds: number; rps: number; connections: number }): Promise<RateResult> {
  const script = path.join(repoRoot(), 'dist', 'bench', 'fixed-rate-load.js');
  const args = [script, '--url', ep.url, '--rps', String(opts.rps), '--connections', String(opts.connections), '--duration-ms', String(opts.seconds * 1000)];
  if (ep.host) args.push('--host', ep.host);
  for (const h of headerLines(ep)) args.push('--header', h);
  const r = await runTool(process.execPath, args, { cpu: opts.cpu, timeoutMs: (opts.seconds + 20) * 1000 });
  check('fixed-rate-load', r);
  const j = JSON.parse(r.stdout);
  return { tool: 'fixed-rate-load', requests: j.completed, rps: j.achieved_rps, p50: j.latency_us.p50, p90: j.latency_us.p90, p99: j.latency_us.p99, errors: j.errors + j.non2xx };
}

export async function runH2load(bin: string, ep: Endpoint, opts: { cpu?: number; seconds: number; connections: number; streams: number; grpcBodyFile?: string; path?: string }): Promise<H2Result> {
  const url = new URL(ep.url);
  if (opts.path) url.pathname = opts.path;
  const args = ['-t1', `-c${opts.connections}`, `-m${opts.streams}`, '-D', String(opts.seconds), '--warm-up-time', '1'];
  if (ep.host) args.push('-H', `:authority: ${ep.host}`);
  for (const h of headerLines(ep)) args.push('-H', h);
  if (opts.grpcBodyFile) args.push('-d', opts.grpcBodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
  args.push(url.toString());
  const r = await runTool(bin, args, { cpu: opts.cpu, timeoutMs: (opts.seconds + 25) * 1000 });
  check('h2load', r);
  return parseH2load(r.stdout);
}
