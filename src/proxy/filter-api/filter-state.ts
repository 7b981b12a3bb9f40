/**
 * Per-stream objects one filter leaves for another (Envoy's FilterState), by name: the JWT
 * filter's verified claims for RBAC, an authorization server's headers for the router. Made only
 * when a filter first writes to it; the number of entries is bounded (a filter that leaked an
 * entry per call could not grow a stream without limit).
 */
const MAX_ENTRIES = 64;

export class FilterState {
  private readonly data = new Map<string, unknown>();
  /** entries refused because the state was full */
  overflow = 0;

  get<T>(name: string): T | undefined {
    return this.data.get(name) as T | undefined;
  }

  has(name: string): boolean {
    return this.data.has(name);
  }

  set(name: string, value: unknown): void {
    if (!this.data.has(name) && this.data.size >= MAX_ENTRIES) {
      this.overflow++;
      return;
    }
    this.data.set(name, value);
  }
}
