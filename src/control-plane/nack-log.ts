/**
 * NACK log lines (issue 23 item 8: each NACK was logged twice, unbounded and unthrottled): one
 * line per proxy, type and version, the message cut short, and at most `perWindow` lines per
 * window; what is held back is counted in the next line that gets out.
 */

const MAX_MESSAGE = 300;
const MAX_NODE = 200;
/** proxies × types × versions remembered (oldest forgotten first) */
const MAX_SEEN = 4096;

const cut = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n)}…`);

export class NackLog {
  private readonly seen = new Set<string>();
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;
  /** lines not written (repeats and throttled ones), for tests and metrics */
  dropped = 0;

  constructor(
    private readonly write: (line: string) => void,
    private readonly perWindow = 10,
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  nack(node: string, type: string, version: string, message: string): void {
    const key = `${node}\u0000${type}\u0000${version}`;
    if (this.seen.has(key)) {
      this.dropped++;
      return;
    }
    this.seen.add(key);
    if (this.seen.size > MAX_SEEN) this.seen.delete(this.seen.values().next().value as string);
    const t = this.now();
    if (t - this.windowStart >= this.windowMs) {
      this.windowStart = t;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.perWindow) {
      this.suppressed++;
      this.dropped++;
      return;
    }
    this.inWindow++;
    const more = this.suppressed ? ` (${this.suppressed} more NACKs not logged)` : '';
    this.suppressed = 0;
    this.write(`NACK from ${cut(node, MAX_NODE)} for ${type} version ${cut(version, 64)}: ${cut(message.replace(/\s+/g, ' '), MAX_MESSAGE)}${more}`);
  }
}
