/**
 * `clew proxy-config secret PROXY [-o json]`: the secrets a proxy holds, from the proxy's own admin
 * `/config_dump` (SecretsConfigDump; the control plane never sees the workload's key or
 * certificate), in istioctl's columns. The proxy's admin address comes from the control plane's
 * view of its node (the address in its node id, port 15000 or its CLEW_ADMIN_PORT) unless
 * `--admin URL` is given.
 */
import * as crypto from 'node:crypto';
import { request } from 'undici';
import { callControlPlane } from './control-plane-client.js';
import { CliError } from './errors.js';
import { table } from './output.js';
import { API_PATHS } from '../api/api-paths.js';
import type { ProxyStatusRow } from '../api/api-types.js';

const ADMIN_PORT = 15000;

/** The admin URL of a connected proxy: `<address from its node id>:<15000 or the port it published>`. */
export async function proxyAdminUrl(controlPlane: string, proxy: string): Promise<string> {
  const res = await callControlPlane<ProxyStatusRow[]>(controlPlane, 'GET', API_PATHS.proxyStatus);
  if (res.status !== 200 || !Array.isArray(res.body)) throw new CliError(`control plane answered HTTP ${res.status}`);
  const row = res.body.find((r) => r.nodeId === proxy || r.name === proxy) ?? res.body.find((r) => r.name.split('.')[0] === proxy);
  if (!row) throw new CliError(`proxy ${proxy} is not connected to ${controlPlane}`, 1);
  const ip = row.nodeId.split('~')[1];
  if (!ip) throw new CliError(`proxy ${proxy}: no address in its node id ${row.nodeId}`);
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${row.adminPort ?? ADMIN_PORT}`;
}

export async function fetchSecretsDump(adminUrl: string): Promise<any> {
  let body: any;
  try {
    const res = await request(new URL('/config_dump', adminUrl), { headersTimeout: 10_000, bodyTimeout: 10_000 });
    if (res.statusCode !== 200) throw new CliError(`proxy admin ${adminUrl} answered HTTP ${res.statusCode}`);
    body = await res.body.json();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot reach the proxy admin at ${adminUrl}: ${(err as Error).message}`);
  }
  return (body.configs ?? []).find((c: any) => String(c['@type']).endsWith('SecretsConfigDump')) ?? { dynamic_active_secrets: [], dynamic_warming_secrets: [] };
}

function firstCert(b64: string | undefined): crypto.X509Certificate | undefined {
  if (!b64) return undefined;
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!m) return undefined;
  try {
    return new crypto.X509Certificate(m[0]);
  } catch {
    return undefined;
  }
}

/** istioctl's columns: RESOURCE NAME, TYPE, STATUS, VALID CERT, SERIAL NUMBER, NOT AFTER, NOT BEFORE. */
export function secretRows(dump: any, now = Date.now()): string[][] {
  const rows: string[][] = [];
  for (const s of dump.dynamic_active_secrets ?? []) {
    const sec = s.secret ?? {};
    const isCa = !!sec.validation_context;
    const cert = firstCert(isCa ? sec.validation_context?.trusted_ca?.inline_bytes : sec.tls_certificate?.certificate_chain?.inline_bytes);
    const nb = cert ? new Date(cert.validFrom) : undefined;
    const na = cert ? new Date(cert.validTo) : undefined;
    const valid = !!(nb && na && nb.getTime() <= now && now <= na.getTime());
    rows.push([s.name, isCa ? 'CA' : 'Cert Chain', 'ACTIVE', String(valid), cert ? cert.serialNumber.toLowerCase() : '', na ? na.toISOString() : '', nb ? nb.toISOString() : '']);
  }
  for (const s of dump.dynamic_warming_secrets ?? []) rows.push([s.name, '', 'WARMING', 'false', '', '', '']);
  return rows;
}

export function secretTable(dump: any): string {
  return table(['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'], secretRows(dump));
}
