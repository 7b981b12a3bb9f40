/**
 * Applying and removing the capture rules in the current network namespace.
 *
 * Apply is one `iptables-restore --noflush` per family, each table in it committed as a unit:
 * earlier ISTIO_* state (a previous apply, maybe with other flags) is removed in the same
 * transaction that adds the new rules, so applying twice gives the same tables (idempotent) and a
 * rule that fails leaves its table untouched. A table only commits alone, so when a later table
 * or the other family (or the TPROXY routes) fails, the tables already committed are restored
 * from the snapshot taken before: no half-applied state is left.
 *
 * What was added to the built-in chains is recorded in /run/clew/iptables/net-<inode>.json (one
 * per network namespace), so `clew iptables clean` removes exactly that, plus every ISTIO_* chain
 * and any built-in rule that jumps to one.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { CaptureConfig } from './capture-config.js';
import { CaptureError } from './capture-errors.js';
import { backend, detectBackend, run, type BackendName, type IptablesBackend } from './capture-iptables.js';
import { BUILTIN_CHAINS, buildCaptureRules, chainsOf, ruleLine, type FamilyRules, type IptRule, type IptTable } from './capture-rules.js';

export const RECORD_DIR = process.env.CLEW_IPTABLES_RECORD_DIR ?? '/run/clew/iptables';

export interface TproxyRoute {
  family: 4 | 6;
  mark: number;
  table: number;
}

export interface CaptureRecord {
  version: 1;
  backend: BackendName;
  /** rules added to built-in chains (jumps to ISTIO_* chains are found without it) */
  builtin: Array<{ family: 4 | 6; rules: IptRule[] }>;
  routes: TproxyRoute[];
  appliedAt: string;
}

export interface ApplyOptions {
  /** istio-iptables' --force-iptables-binary: iptables, iptables-nft or iptables-legacy */
  forceBinary?: string;
  /** where records live (tests); default RECORD_DIR */
  recordDir?: string;
  /** replaces a binary by name (tests inject failures) */
  binaryOverride?: (name: string) => string;
  log?: (line: string) => void;
}

export interface ApplyResult {
  backend: BackendName;
  families: Array<4 | 6>;
  record: string;
}

interface TableSnapshot {
  /** `*table` ... `COMMIT`, verbatim */
  section: string;
  chains: string[];
  /** `-A CHAIN ...` lines */
  rules: string[];
}

/** iptables-save output -> tables. */
export function parseSave(text: string): Map<string, TableSnapshot> {
  const out = new Map<string, TableSnapshot>();
  let cur: TableSnapshot | undefined;
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (line.startsWith('*')) {
      cur = { section: '', chains: [], rules: [] };
      lines = [line];
      out.set(line.slice(1).trim(), cur);
      continue;
    }
    if (!cur) continue;
    lines.push(line);
    if (line === 'COMMIT') {
      cur.section = `${lines.join('\n')}\n`;
      cur = undefined;
    } else if (line.startsWith(':')) cur.chains.push(line.slice(1).split(' ')[0]);
    else if (line.startsWith('-A ')) cur.rules.push(line);
  }
  return out;
}

/** The network namespace this process is in, as a file-name-safe id. */
export function netnsId(): string {
  const st = fs.statSync('/proc/self/ns/net');
  return `net-${st.dev}-${st.ino}`;
}

export function recordPath(dir = RECORD_DIR): string {
  return join(dir, `${netnsId()}.json`);
}

export function readRecord(dir = RECORD_DIR): CaptureRecord | undefined {
  try {
    const r = JSON.parse(fs.readFileSync(recordPath(dir), 'utf8')) as CaptureRecord;
    return r?.version === 1 ? r : undefined;
  } catch {
    return undefined;
  }
}

function writeRecord(r: CaptureRecord, dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = recordPath(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(r, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  return file;
}

function removeRecord(dir: string): void {
  fs.rmSync(recordPath(dir), { force: true });
}

function isIstioJump(r: IptRule): boolean {
  const j = r.spec.indexOf('-j');
  return j >= 0 && r.spec[j + 1]?.startsWith('ISTIO_') === true;
}

/** Rules in built-in chains that are not jumps to ISTIO_* chains (those are found by scanning). */
function builtinNonJumps(rules: IptRule[]): IptRule[] {
  return rules.filter((r) => BUILTIN_CHAINS.has(r.chain) && !isIstioJump(r));
}

class Tables {
  constructor(
    private readonly b: IptablesBackend,
    private readonly family: 4 | 6,
    private readonly override: (name: string) => string,
  ) {}

  private bin(tool: '' | '-save' | '-restore'): string {
    return this.override(this.b.bin(this.family, tool));
  }

  save(): string {
    const r = run(this.bin('-save'), []);
    if (r.code !== 0) throw new CaptureError('CLEW_CAPTURE_APPLY_FAILED', `${this.bin('-save')} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  }

  /** Whether a rule exists (iptables -C). */
  has(r: IptRule): boolean {
    return run(this.bin(''), [...this.b.waitArgs, '-t', r.table, '-C', r.chain, ...r.spec]).code === 0;
  }

  restore(input: string, noflush: boolean): { ok: boolean; error: string } {
    const r = run(this.bin('-restore'), [...this.b.waitArgs, ...(noflush ? ['--noflush'] : [])], input);
    return { ok: r.code === 0, error: r.stderr.trim() || r.stdout.trim() || `exit ${r.code}` };
  }
}

/** The restore input that removes every ISTIO_* trace from `tables` (and `extra` built-in rules). */
function removalLines(snap: Map<string, TableSnapshot>, table: string, extra: IptRule[], t: Tables): string[] {
  const s = snap.get(table);
  const lines: string[] = [];
  for (const rule of s?.rules ?? []) {
    const parts = rule.split(' ');
    const chain = parts[1];
    const j = parts.indexOf('-j');
    if (BUILTIN_CHAINS.has(chain) && j >= 0 && parts[j + 1]?.startsWith('ISTIO_')) lines.push(`-D ${rule.slice(3)}`);
  }
  const seen = new Set<string>();
  for (const r of extra) {
    if (r.table !== table) continue;
    const key = `${r.chain} ${r.spec.join(' ')}`;
    if (seen.has(key) || !t.has(r)) continue;
    seen.add(key);
    lines.push(`-D ${key}`);
  }
  return lines;
}

function istioChains(snap: Map<string, TableSnapshot>, table: string): string[] {
  return (snap.get(table)?.chains ?? []).filter((c) => c.startsWith('ISTIO_'));
}

/**
 * One restore input for a family: per table, remove the old state (built-in jumps to ISTIO_*,
 * recorded built-in rules, stale ISTIO_* chains) and add the new rules.
 */
function applyInput(fr: FamilyRules, snap: Map<string, TableSnapshot>, previous: IptRule[], t: Tables): { input: string; tables: string[] } {
  const chains = chainsOf(fr.rules);
  const tables = [...new Set<string>([...fr.rules.map((r) => r.table), ...[...snap.keys()].filter((tb) => istioChains(snap, tb).length > 0)])].sort();
  const remove = [...previous, ...builtinNonJumps(fr.rules)];
  const out: string[] = [];
  for (const table of tables) {
    const existing = istioChains(snap, table);
    const wanted = chains.get(table as IptTable) ?? [];
    out.push(`*${table}`);
    out.push(...removalLines(snap, table, remove, t));
    for (const c of existing) out.push(`-F ${c}`);
    for (const c of existing) if (!wanted.includes(c)) out.push(`-X ${c}`);
    for (const c of wanted) if (!existing.includes(c)) out.push(`-N ${c}`);
    for (const r of fr.rules) if (r.table === table) out.push(ruleLine(r));
    out.push('COMMIT');
  }
  return { input: `${out.join('\n')}\n`, tables };
}

/** Restore input that puts `tables` back as they were in `snap` (absent tables: emptied). */
function rollbackInput(snap: Map<string, TableSnapshot>, tables: string[]): string {
  return tables.map((tb) => snap.get(tb)?.section ?? `*${tb}\n-F\n-X\nCOMMIT\n`).join('');
}

function ipArgs(family: 4 | 6): string[] {
  return family === 6 ? ['-6'] : ['-4'];
}

function hasRoute(rt: TproxyRoute): boolean {
  const r = run('ip', [...ipArgs(rt.family), 'rule', 'show', 'fwmark', String(rt.mark), 'lookup', String(rt.table)]);
  return r.code === 0 && r.stdout.trim() !== '';
}

/** TPROXY: packets marked by ISTIO_DIVERT/TPROXY are delivered locally (Istio's policy routing). */
function addRoute(rt: TproxyRoute): void {
  if (!hasRoute(rt)) {
    const r = run('ip', [...ipArgs(rt.family), 'rule', 'add', 'fwmark', String(rt.mark), 'lookup', String(rt.table)]);
    if (r.code !== 0) throw new CaptureError('CLEW_CAPTURE_APPLY_FAILED', `ip rule add fwmark ${rt.mark} lookup ${rt.table}: ${r.stderr.trim()}`);
  }
  const r = run('ip', [...ipArgs(rt.family), 'route', 'replace', 'local', rt.family === 6 ? '::/0' : '0.0.0.0/0', 'dev', 'lo', 'table', String(rt.table)]);
  if (r.code !== 0) throw new CaptureError('CLEW_CAPTURE_APPLY_FAILED', `ip route add local default dev lo table ${rt.table}: ${r.stderr.trim()}`);
}

function removeRoute(rt: TproxyRoute): void {
  while (hasRoute(rt)) {
    if (run('ip', [...ipArgs(rt.family), 'rule', 'del', 'fwmark', String(rt.mark), 'lookup', String(rt.table)]).code !== 0) break;
  }
  run('ip', [...ipArgs(rt.family), 'route', 'flush', 'table', String(rt.table)]);
}

/** The families to program: IPv4, and IPv6 when asked and ip6tables works here. */
function familiesFor(cfg: CaptureConfig, b: IptablesBackend, override: (n: string) => string, log: (l: string) => void): CaptureConfig {
  if (!cfg.ipv6) return cfg;
  if (run(override(b.bin(6, '-save')), []).code === 0) return cfg;
  log('IPv6 is not available here (ip6tables-save fails): IPv4 rules only');
  return { ...cfg, ipv6: false };
}

/** Applies the capture rules for `cfg` here; on any failure nothing of it stays applied. */
export function applyCapture(cfg: CaptureConfig, opts: ApplyOptions = {}): ApplyResult {
  const log = opts.log ?? (() => undefined);
  const override = opts.binaryOverride ?? ((n: string) => n);
  const dir = opts.recordDir ?? RECORD_DIR;
  const previous = readRecord(dir);
  const b = opts.forceBinary ? detectBackend(opts.forceBinary) : previous ? backend(previous.backend) : detectBackend();
  const effective = familiesFor(cfg, b, override, log);
  const families = buildCaptureRules(effective);
  const done: Array<{ family: 4 | 6; t: Tables; snap: Map<string, TableSnapshot>; tables: string[] }> = [];
  const routes: TproxyRoute[] = [];
  const undo = (): void => {
    for (const rt of routes) removeRoute(rt);
    for (const d of done.reverse()) {
      const r = d.t.restore(rollbackInput(d.snap, d.tables), false);
      if (!r.ok) log(`rollback of the IPv${d.family} tables ${d.tables.join(', ')} failed: ${r.error}`);
    }
  };
  try {
    for (const fr of families) {
      const t = new Tables(b, fr.family, override);
      const snap = parseSave(t.save());
      const prev = previous?.builtin.find((x) => x.family === fr.family)?.rules ?? [];
      const { input, tables } = applyInput(fr, snap, prev, t);
      done.push({ family: fr.family, t, snap, tables });
      const r = t.restore(input, true);
      if (!r.ok) throw new CaptureError('CLEW_CAPTURE_APPLY_FAILED', `${b.bin(fr.family, '-restore')}: ${r.error}`);
    }
    if (effective.mode === 'TPROXY' && (effective.inboundPorts === '*' || effective.inboundPorts.length > 0)) {
      for (const fr of families) {
        const rt = { family: fr.family, mark: effective.tproxyMark, table: effective.tproxyRouteTable };
        routes.push(rt);
        addRoute(rt);
      }
    }
    for (const old of previous?.routes ?? []) {
      if (!routes.some((r) => r.family === old.family && r.mark === old.mark && r.table === old.table)) removeRoute(old);
    }
  } catch (err) {
    undo();
    if (err instanceof CaptureError) throw err;
    throw new CaptureError('CLEW_CAPTURE_APPLY_FAILED', (err as Error).message);
  }
  const record: CaptureRecord = {
    version: 1,
    backend: b.name,
    builtin: families.map((fr) => ({ family: fr.family, rules: builtinNonJumps(fr.rules) })),
    routes,
    appliedAt: new Date().toISOString(),
  };
  return { backend: b.name, families: families.map((f) => f.family), record: writeRecord(record, dir) };
}

export interface CleanResult {
  backend: BackendName;
  /** lines removed per family (restore input), empty when there was nothing */
  removed: Array<{ family: 4 | 6; lines: number }>;
}

/**
 * Removes the capture state here: every ISTIO_* chain, every built-in rule jumping to one, the
 * recorded built-in rules (and those `cfg` would add, when given), the TPROXY routes.
 */
export function cleanCapture(cfg: CaptureConfig | undefined, opts: ApplyOptions = {}): CleanResult {
  const override = opts.binaryOverride ?? ((n: string) => n);
  const dir = opts.recordDir ?? RECORD_DIR;
  const record = readRecord(dir);
  const b = opts.forceBinary ? detectBackend(opts.forceBinary) : record ? backend(record.backend) : detectBackend();
  const generated = cfg ? buildCaptureRules(cfg) : [];
  const removed: CleanResult['removed'] = [];
  const families: Array<4 | 6> = run(override(b.bin(6, '-save')), []).code === 0 ? [4, 6] : [4];
  for (const family of families) {
    const t = new Tables(b, family, override);
    const snap = parseSave(t.save());
    const extra = [
      ...(record?.builtin.find((x) => x.family === family)?.rules ?? []),
      ...builtinNonJumps(generated.find((g) => g.family === family)?.rules ?? []),
    ];
    const out: string[] = [];
    let count = 0;
    for (const table of [...snap.keys()].sort()) {
      const lines = removalLines(snap, table, extra, t);
      const chains = istioChains(snap, table);
      if (lines.length === 0 && chains.length === 0) continue;
      out.push(`*${table}`, ...lines, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
      count += lines.length + chains.length;
    }
    if (out.length > 0) {
      const r = t.restore(`${out.join('\n')}\n`, true);
      if (!r.ok) throw new CaptureError('CLEW_CAPTURE_CLEAN_FAILED', `${b.bin(family, '-restore')}: ${r.error}`);
    }
    removed.push({ family, lines: count });
  }
  const routes = [...(record?.routes ?? [])];
  if (cfg?.mode === 'TPROXY') for (const family of families) routes.push({ family, mark: cfg.tproxyMark, table: cfg.tproxyRouteTable });
  for (const rt of routes) removeRoute(rt);
  removeRecord(dir);
  return { backend: b.name, removed };
}
