/**
 * The config format of Envoy's reference rate limit service (envoyproxy/ratelimit), as Istio's
 * rate-limit task mounts it from the `ratelimit-config` ConfigMap: one YAML document per file,
 *
 *   domain: <name>
 *   descriptors:
 *     - key: <key>            # required
 *       value: <value>        # optional: without it, the default for any value of the key
 *       rate_limit:           # optional
 *         unit: second | minute | hour | day | week | month | year
 *         requests_per_unit: <n>
 *         unlimited: true     # instead of unit/requests_per_unit: never limited, never counted
 *         name: <name>        # optional
 *       shadow_mode: true     # counted, reported OK
 *       descriptors: [...]    # nested, for the next entry of a request descriptor
 *
 * A directory is read as the service reads its runtime directory: every *.yaml / *.yml file in
 * it (dotfiles skipped: a mounted ConfigMap's `..data` links), one domain each, no domain twice.
 * Unknown fields, bad units, missing keys and duplicate keys are errors naming the file and field.
 *
 * Lookup (as envoyproxy/ratelimit): each entry of a request descriptor is looked up as
 * `key_value`, then as `key` (the default); the limit of the node reached by the last entry
 * applies; a descriptor longer or shorter than the config's nesting has no limit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { RateLimitConfigError } from './ratelimit-errors.js';

export const UNIT_SECONDS = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86400,
  week: 604800,
  month: 2592000,
  year: 31536000,
} as const;
export type RateLimitUnit = keyof typeof UNIT_SECONDS;

export interface RateLimitRule {
  /** the config path of the rule, `domain.key_value.key` (stats, logs) */
  fullKey: string;
  unit: RateLimitUnit;
  requestsPerUnit: number;
  unlimited: boolean;
  shadowMode: boolean;
  name: string;
}

export interface DescriptorNode {
  limit: RateLimitRule | undefined;
  children: Map<string, DescriptorNode>;
}

export interface DomainConfig {
  domain: string;
  file: string;
  root: Map<string, DescriptorNode>;
}

export type RateLimitConfigSet = ReadonlyMap<string, DomainConfig>;

const DESCRIPTOR_FIELDS = new Set(['key', 'value', 'rate_limit', 'descriptors', 'shadow_mode', 'detailed_metric']);
const LIMIT_FIELDS = new Set(['unit', 'requests_per_unit', 'unlimited', 'name']);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseLimit(v: unknown, file: string, field: string, fullKey: string, shadowMode: boolean): RateLimitRule {
  if (!isObj(v)) throw new RateLimitConfigError(file, field, 'must be a map');
  for (const k of Object.keys(v)) if (!LIMIT_FIELDS.has(k)) throw new RateLimitConfigError(file, `${field}.${k}`, 'unknown field');
  const name = v.name === undefined ? '' : String(v.name);
  if (v.unlimited === true) {
    if (v.unit !== undefined || v.requests_per_unit !== undefined) throw new RateLimitConfigError(file, field, 'unlimited cannot have unit or requests_per_unit');
    return { fullKey, unit: 'second', requestsPerUnit: 0, unlimited: true, shadowMode, name };
  }
  if (v.unlimited !== undefined && v.unlimited !== false) throw new RateLimitConfigError(file, `${field}.unlimited`, 'must be true or false');
  const unit = String(v.unit ?? '').toLowerCase();
  if (!(unit in UNIT_SECONDS)) throw new RateLimitConfigError(file, `${field}.unit`, `${JSON.stringify(v.unit)} is not a unit (${Object.keys(UNIT_SECONDS).join(', ')})`);
  const n = v.requests_per_unit;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RateLimitConfigError(file, `${field}.requests_per_unit`, `${JSON.stringify(n)} is not a count`);
  return { fullKey, unit: unit as RateLimitUnit, requestsPerUnit: n, unlimited: false, shadowMode, name };
}

function parseDescriptors(list: unknown, file: string, field: string, parentKey: string): Map<string, DescriptorNode> {
  const out = new Map<string, DescriptorNode>();
  if (list === undefined || list === null) return out;
  if (!Array.isArray(list)) throw new RateLimitConfigError(file, field, 'must be a list');
  list.forEach((d, i) => {
    const f = `${field}[${i}]`;
    if (!isObj(d)) throw new RateLimitConfigError(file, f, 'must be a map');
    for (const k of Object.keys(d)) if (!DESCRIPTOR_FIELDS.has(k)) throw new RateLimitConfigError(file, `${f}.${k}`, 'unknown field');
    if (typeof d.key !== 'string' || d.key === '') throw new RateLimitConfigError(file, `${f}.key`, 'a non-empty key is required');
    if (d.value !== undefined && typeof d.value !== 'string') throw new RateLimitConfigError(file, `${f}.value`, 'must be a string');
    if (d.shadow_mode !== undefined && typeof d.shadow_mode !== 'boolean') throw new RateLimitConfigError(file, `${f}.shadow_mode`, 'must be true or false');
    const mapKey = d.value !== undefined && d.value !== '' ? `${d.key}_${d.value}` : d.key;
    if (out.has(mapKey)) throw new RateLimitConfigError(file, `${f}`, `duplicate descriptor ${mapKey}`);
    const fullKey = `${parentKey}.${mapKey}`;
    const limit = d.rate_limit === undefined || d.rate_limit === null ? undefined : parseLimit(d.rate_limit, file, `${f}.rate_limit`, fullKey, d.shadow_mode === true);
    out.set(mapKey, { limit, children: parseDescriptors(d.descriptors, file, `${f}.descriptors`, fullKey) });
  });
  return out;
}

/** One config document (the text of a file). */
export function parseDomainConfig(text: string, file: string): DomainConfig {
  const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
  if (docs.length !== 1) throw new RateLimitConfigError(file, '(file)', `one YAML document expected, found ${docs.length}`);
  const doc = docs[0];
  if (doc.errors.length) throw new RateLimitConfigError(file, '(file)', doc.errors[0].message);
  const v = doc.toJS() as unknown;
  if (!isObj(v)) throw new RateLimitConfigError(file, '(file)', 'must be a map with domain and descriptors');
  for (const k of Object.keys(v)) if (k !== 'domain' && k !== 'descriptors') throw new RateLimitConfigError(file, k, 'unknown field');
  if (typeof v.domain !== 'string' || v.domain === '') throw new RateLimitConfigError(file, 'domain', 'a non-empty domain is required');
  return { domain: v.domain, file, root: parseDescriptors(v.descriptors, file, 'descriptors', v.domain) };
}

/** The config files of a path: the file itself, or a directory's *.yaml / *.yml (dotfiles skipped). */
export function configFiles(p: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    throw new RateLimitConfigError(p, '(path)', (err as Error).message);
  }
  if (!st.isDirectory()) return [p];
  return fs.readdirSync(p)
    .filter((n) => !n.startsWith('.') && /\.ya?ml$/i.test(n))
    .sort()
    .map((n) => path.join(p, n))
    .filter((f) => fs.statSync(f).isFile());
}

/** Every domain of the config path; throws RateLimitConfigError on the first bad file. */
export function loadRateLimitConfig(p: string): RateLimitConfigSet {
  const out = new Map<string, DomainConfig>();
  for (const file of configFiles(p)) {
    const d = parseDomainConfig(fs.readFileSync(file, 'utf8'), file);
    const seen = out.get(d.domain);
    if (seen) throw new RateLimitConfigError(file, 'domain', `${d.domain} is also defined in ${seen.file}`);
    out.set(d.domain, d);
  }
  return out;
}

export interface RequestEntry {
  key: string;
  value: string;
}

/** The rule a request descriptor falls under, or undefined (no limit: envoyproxy/ratelimit's lookup). */
export function findRule(cfg: DomainConfig, entries: readonly RequestEntry[]): RateLimitRule | undefined {
  let level: Map<string, DescriptorNode> = cfg.root;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const node = level.get(`${e.key}_${e.value}`) ?? level.get(e.key);
    if (node === undefined) return undefined;
    if (i === entries.length - 1) return node.limit;
    if (node.children.size === 0) return undefined;
    level = node.children;
  }
  return undefined;
}
