/**
 * The workloads registered by connected proxies, kept in `<config dir>/.clew/proxy-workloads.json`
 * (the config scan skips dot entries) so they survive a control-plane restart: Istio keeps
 * auto-registered WorkloadEntries in its API server for the same reason. Without it, the first
 * proxy to reconnect would get no endpoints for the services of proxies not yet back.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProxyIdentity } from '../xds/node-metadata.js';

export class ProxyWorkloadFile {
  readonly file: string;
  private failed = false;

  constructor(configDir: string, private readonly log: (line: string) => void) {
    this.file = path.join(configDir, '.clew', 'proxy-workloads.json');
  }

  /** node id -> identity, as last saved (empty when absent or unreadable) */
  load(): Map<string, ProxyIdentity> {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, ProxyIdentity>;
      return new Map(Object.entries(parsed).filter(([, id]) => id && typeof id.address === 'string' && id.address !== ''));
    } catch {
      return new Map();
    }
  }

  /** Writes atomically (temp file + rename); a failure is logged once and otherwise ignored. */
  save(workloads: Map<string, ProxyIdentity>): void {
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(Object.fromEntries(workloads)));
      fs.renameSync(tmp, this.file);
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.log(`cannot save proxy workloads to ${this.file}: ${(err as Error).message}`);
      this.failed = true;
    }
  }
}
