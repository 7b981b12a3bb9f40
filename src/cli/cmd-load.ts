/**
 * `clew load`: fortio's `load` for the mesh's tasks (circuit breaking, fault injection).
 * fortio spells long flags with one dash (`-qps 0 -curl`); commander does not, so this command
 * rewrites its own arguments before commander parses them.
 */
import { Command, type ParseOptionsResult } from 'commander';
import { CliError, EXIT_FAILURE, UsageError } from './errors.js';
import { buildLoadOptions, LoadUsageError, normalizeLoadArgv, type RawLoadFlags } from '../load/load-options.js';
import { runLoad } from '../load/load-runner.js';
import { formatLoadText, loadResultJson } from '../load/load-report.js';
import { curlOnce } from '../load/load-curl.js';
import { createProgressBar, expectedRunMs } from '../load/load-progress.js';
import { bypassesProxy, proxyFromEnv } from '../load/load-proxy-env.js';

class LoadCommand extends Command {
  override parseOptions(argv: string[]): ParseOptionsResult {
    return super.parseOptions(normalizeLoadArgv(argv));
  }
}

interface LoadFlags extends RawLoadFlags {
  curl?: boolean;
  json?: boolean;
  loglevel?: string;
}

/** HTTP_PROXY for this URL unless NO_PROXY says otherwise. */
function envProxyFor(url: string): string | undefined {
  const proxy = proxyFromEnv();
  if (!proxy) return undefined;
  let target: URL;
  try {
    target = new URL(url.includes('://') ? url : `http://${url}`);
  } catch {
    return undefined;
  }
  const port = target.port ? Number(target.port) : 80;
  return bypassesProxy(target.hostname, port, proxy.noProxy) ? undefined : `http://${proxy.host}:${proxy.port}`;
}

async function runCommand(url: string | undefined, flags: LoadFlags): Promise<void> {
  let options;
  try {
    options = buildLoadOptions(url, flags, flags.proxy === undefined && url ? envProxyFor(url) : undefined);
  } catch (err) {
    if (err instanceof LoadUsageError) throw new UsageError(`load: ${err.message}`);
    throw err;
  }

  if (flags.curl) {
    const res = await curlOnce(options).catch((err: Error) => {
      throw new CliError(`load: ${err.message}`, EXIT_FAILURE, 'CLEW_LOAD_CURL');
    });
    process.stdout.write(res.text.endsWith('\n') ? res.text : `${res.text}\n`);
    if (res.status < 200 || res.status > 299) process.exitCode = EXIT_FAILURE;
    return;
  }

  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  const expected = expectedRunMs(options);
  const bar = process.stdout.isTTY && !flags.json && expected !== undefined && expected > 2000
    ? createProgressBar(expected) : undefined;
  try {
    const result = await runLoad(options, { signal: stop.signal, onProgress: bar?.update });
    bar?.finish();
    process.stdout.write(flags.json ? `${JSON.stringify(loadResultJson(result), null, 2)}\n` : formatLoadText(result));
    const total = result.stats.count;
    if (total > 0 && result.stats.codes.get(-1) === total) {
      throw new CliError(`load: all ${total} calls failed (connection errors or timeouts)`, EXIT_FAILURE, 'CLEW_LOAD_FAILED');
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function register(program: Command): void {
  const cmd = new LoadCommand('load');
  cmd.copyInheritedSettings(program);
  cmd
    .description('Generate HTTP load like fortio: clew load [-c N] [-qps Q] [-n N | -t D] [-H "K: V"]... [-curl] [-json] URL')
    .argument('[url]', 'target URL (http://host:port/path)')
    .option('-c, --connections <n>', 'concurrent connections / workers (default 4)')
    .option('--qps <q>', 'total queries per second, 0 = as fast as possible (default 8)')
    .option('-n <calls>', 'exact number of calls (overrides -t)')
    .option('-t <duration>', 'how long to run, e.g. 5s, 1m; 0 = until ^C (default 5s)')
    .option('-H, --header <header>', "extra request header 'Name: value' (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--curl', 'make one request and print status line, headers and body')
    .option('--json', 'print the result as JSON (fortio\'s "-json -")')
    .option('--proxy <url>', 'HTTP proxy: send absolute-form requests there (default: HTTP_PROXY)')
    .option('--timeout <duration>', 'per-request timeout (default 3s)')
    .option('--loglevel <level>', 'accepted for fortio compatibility; ignored')
    .addHelpText('after', '\nfortio-style single-dash flags are accepted: -qps, -curl, -json, -timeout, -proxy, -loglevel.')
    .action(async (url: string | undefined, flags: LoadFlags) => {
      await runCommand(url, flags);
    });
  program.addCommand(cmd);
}
