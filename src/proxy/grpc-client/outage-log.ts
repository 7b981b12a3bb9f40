/**
 * One log line when a side service's checks start failing (with the reason) and one when they work
 * again, kept across LDS updates in the proxy's shared filter resources (ext_authz, rate limit).
 */
export class OutageLog {
  private failing = false;
  constructor(private readonly what: string, private readonly log: (msg: string) => void = stderrLog) {}
  failed(reason: string): void {
    if (this.failing) return;
    this.failing = true;
    this.log(`${this.what}: check failed: ${reason}`);
  }
  worked(): void {
    if (!this.failing) return;
    this.failing = false;
    this.log(`${this.what}: checks work again`);
  }
}

export function stderrLog(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} [warn] clew-proxy: ${msg}\n`);
}
