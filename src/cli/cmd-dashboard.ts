/**
 * `clew dashboard`: istioctl's `dashboard kiali` for Clew. Serves the UI (src/dashboard) on
 * 127.0.0.1:20001 against a control plane; the graph comes from the control plane's scrape window,
 * or from a Prometheus server with `--prometheus`. Opens a browser only with `--browser`.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { parsePort } from './cli-options.js';
import { DEFAULT_CONTROL_PLANE } from './control-plane-client.js';
import { CliError, UsageError } from './errors.js';
import { DashboardError, startDashboardServer } from '../dashboard/dashboard-server.js';

export const DEFAULT_DASHBOARD_PORT = 20001;

function httpUrl(v: string, flag: string): string {
  try {
    const u = new URL(v);
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.toString();
  } catch {
    // reported below
  }
  throw new UsageError(`${flag} ${v}: not an http(s) URL`);
}

export function register(program: Command): void {
  program
    .command('dashboard')
    .description('serve the mesh dashboard (traffic graph, services, workloads, Istio config, proxies): Kiali\'s role')
    .option('--port <port>', 'port to serve the dashboard on', String(DEFAULT_DASHBOARD_PORT))
    .option('--address <ip>', 'address to serve the dashboard on', '127.0.0.1')
    .option('--control-plane <url>', 'control-plane debug URL', DEFAULT_CONTROL_PLANE)
    .option('--prometheus <url>', 'take the graph from this Prometheus server (scraping the sidecars) instead of the control plane')
    .option('--browser', 'open the dashboard in the default browser (open on macOS, xdg-open elsewhere)')
    .action(async (opts) => {
      const port = parsePort(opts.port, '--port');
      let server;
      try {
        server = await startDashboardServer({
          address: opts.address,
          port,
          controlPlane: httpUrl(opts.controlPlane, '--control-plane'),
          prometheus: opts.prometheus ? httpUrl(opts.prometheus, '--prometheus') : undefined,
        });
      } catch (err) {
        if (err instanceof DashboardError) throw new CliError(err.message, 1, err.code);
        throw err;
      }
      process.stdout.write(`clew dashboard: ${server.url} (control plane ${opts.controlPlane}${opts.prometheus ? `, graph from Prometheus ${opts.prometheus}` : ''}); Ctrl-C stops it\n`);
      if (opts.browser) {
        // the desktop's URL opener: macOS `open`, Windows `start` (through cmd), elsewhere xdg-open
        const [opener, ...openArgs] = process.platform === 'darwin' ? ['open'] : process.platform === 'win32' ? ['cmd', '/c', 'start', '""'] : ['xdg-open'];
        const child = spawn(opener, [...openArgs, server.url], { stdio: 'ignore', detached: true });
        child.on('error', (err) => process.stderr.write(`clew dashboard: could not open a browser: ${err.message}\n`));
        child.unref();
      }
      await new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => resolve());
      });
      await server.close();
    });
}
