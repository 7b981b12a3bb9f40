/**
 * The iptables binaries of one backend (Debian ships both: `iptables-nft*` on the nf_tables
 * kernel API, `iptables-legacy*` on x_tables; `iptables*` is whichever the alternatives system
 * selected) and running them. Detection follows istio-iptables: a backend that already holds
 * rules in this network namespace wins (mixing both breaks packet paths), else the default.
 */
import { spawnSync } from 'node:child_process';
import { CaptureError } from './capture-errors.js';

export type BackendName = 'nft' | 'legacy' | 'default';

export interface IptablesBackend {
  name: BackendName;
  /** 'iptables' | 'iptables-save' | 'iptables-restore' and the ip6tables ones for family 6 */
  bin(family: 4 | 6, tool: '' | '-save' | '-restore'): string;
  /** legacy takes the xtables lock; nft needs none (the option is accepted and ignored) */
  waitArgs: string[];
}

export function backend(name: BackendName): IptablesBackend {
  const infix = name === 'default' ? '' : `-${name}`;
  return {
    name,
    bin: (family, tool) => `${family === 6 ? 'ip6tables' : 'iptables'}${infix}${tool}`,
    waitArgs: ['-w', '10'],
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command synchronously (iptables calls are short and must not interleave). */
export function run(cmd: string, args: string[], input?: string): RunResult {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000 });
  if (r.error) {
    const e = r.error as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new CaptureError('CLEW_CAPTURE_NO_IPTABLES', `${cmd} not found (install the iptables package)`);
    return { code: -1, stdout: '', stderr: e.message };
  }
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function exists(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** Rules (not just policies) present in an iptables-save dump. */
function hasRules(save: string): boolean {
  return save.split('\n').some((l) => l.startsWith('-A ') || (l.startsWith(':') && !/^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(l)));
}

/**
 * The backend to use: `forced` (istio-iptables' --force-iptables-binary), else the one that
 * already has rules here (nft first, as istio-iptables prefers it), else the system default.
 */
export function detectBackend(forced?: string): IptablesBackend {
  if (forced) {
    const name = ({ 'iptables-nft': 'nft', nft: 'nft', 'iptables-legacy': 'legacy', legacy: 'legacy', iptables: 'default', default: 'default' } as Record<string, BackendName>)[forced];
    if (!name) throw new CaptureError('CLEW_CAPTURE_BAD_OPTION', `--force-iptables-binary: expected iptables, iptables-nft or iptables-legacy, got ${JSON.stringify(forced)}`);
    const b = backend(name);
    if (!exists(b.bin(4, ''))) throw new CaptureError('CLEW_CAPTURE_NO_IPTABLES', `${b.bin(4, '')} not found (install the iptables package)`);
    return b;
  }
  for (const name of ['nft', 'legacy'] as const) {
    const b = backend(name);
    if (!exists(b.bin(4, ''))) continue;
    for (const family of [4, 6] as const) {
      const save = run(b.bin(family, '-save'), []);
      if (save.code === 0 && hasRules(save.stdout)) return b;
    }
  }
  const d = backend('default');
  if (exists(d.bin(4, ''))) return d;
  for (const name of ['nft', 'legacy'] as const) if (exists(backend(name).bin(4, ''))) return backend(name);
  throw new CaptureError('CLEW_CAPTURE_NO_IPTABLES', 'no iptables found (install the iptables package)');
}

/** Whether `ip6tables` of this backend works here (IPv6 may be disabled in the kernel). */
export function ipv6Usable(b: IptablesBackend): boolean {
  return run(b.bin(6, '-save'), []).code === 0;
}
