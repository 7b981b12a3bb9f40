/**
 * The virtual IPs the registry allocated (`<config dir>/.clew/service-vips.json`, beside the
 * proxy workloads): a restarted control plane gives every Service and ServiceEntry the address it
 * had, as Kubernetes keeps ClusterIPs in its API server.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VipStore } from '../registry/index.js';

export class ServiceVipFile implements VipStore {
  readonly file: string;
  private failed = false;

  constructor(configDir: string, private readonly log: (line: string) => void) {
    this.file = path.join(configDir, '.clew', 'service-vips.json');
  }

  load(): Record<string, string> {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } catch {
      return {};
    }
  }

  /** Written atomically (temp file + rename); a failure is logged once and otherwise ignored. */
  save(allocations: Record<string, string>): void {
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, `${JSON.stringify(allocations, null, 1)}\n`);
      fs.renameSync(tmp, this.file);
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.log(`cannot save service virtual IPs to ${this.file}: ${(err as Error).message}`);
      this.failed = true;
    }
  }
}
