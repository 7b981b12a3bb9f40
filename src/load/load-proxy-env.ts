/**
 * HTTP_PROXY / NO_PROXY handling, for `clew load` and the sample apps. In local mode the sidecar
 * is reached as an HTTP forward proxy (absolute-form requests), so clients read the usual proxy
 * variables. It lives in src/ so that Clew's own code never depends on samples/.
 */

export interface ProxyConfig {
  /** The proxy's host and port; requests are sent there in absolute form. */
  host: string;
  port: number;
  /** NO_PROXY entries, lower-cased: host names, `.suffix` domains, `host:port`, or `*`. */
  noProxy: string[];
}

/** Reads HTTP_PROXY/http_proxy and NO_PROXY/no_proxy (lower-case wins, as curl does). */
export function proxyFromEnv(env: NodeJS.ProcessEnv = process.env): ProxyConfig | undefined {
  const raw = env.http_proxy || env.HTTP_PROXY;
  if (!raw) return undefined;
  const url = new URL(raw.includes('://') ? raw : `http://${raw}`);
  if (url.protocol !== 'http:') {
    throw new Error(`unsupported proxy scheme in HTTP_PROXY: ${url.protocol}`);
  }
  const noProxy = (env.no_proxy ?? env.NO_PROXY ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  return { host: url.hostname, port: url.port ? Number(url.port) : 80, noProxy };
}

/** True when the destination must be reached directly (NO_PROXY match). */
export function bypassesProxy(host: string, port: number, noProxy: string[]): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  for (const entry of noProxy) {
    if (entry === '*') return true;
    let name = entry;
    let entryPort: number | undefined;
    const m = /^(.*):(\d+)$/.exec(entry);
    if (m && !entry.includes('::')) {
      name = m[1];
      entryPort = Number(m[2]);
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    const bare = name.startsWith('*.') ? name.slice(1) : name;
    if (bare.startsWith('.')) {
      if (h.endsWith(bare) || h === bare.slice(1)) return true;
    } else if (h === bare || h.endsWith(`.${bare}`)) {
      return true;
    }
  }
  return false;
}
