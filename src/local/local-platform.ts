/**
 * What local mode needs from the operating system, said once: pods on their own loopback
 * addresses need Linux (or loopback aliases: pod-addressing.ts picks per-pod ports otherwise);
 * `--netns` needs Linux network namespaces, iptables and root. Windows runs local mode under WSL.
 */
import { LocalError } from './local-errors.js';

/** Throws a clear CLEW_LOCAL_UNSUPPORTED error when `--netns` cannot work on this platform. */
export function assertNetnsSupported(platform: NodeJS.Platform = process.platform): void {
  if (platform === 'linux') return;
  throw new LocalError(
    'CLEW_LOCAL_UNSUPPORTED',
    `--netns needs Linux network namespaces and iptables (this is ${platform}); without it local mode runs here with every pod on 127.0.0.1 and its own ports (--pod-addressing port)`,
  );
}

/** Local mode runs natively on Linux and macOS; Windows only under WSL (a Linux). */
export function assertLocalModeSupported(platform: NodeJS.Platform = process.platform): void {
  if (platform !== 'win32') return;
  throw new LocalError('CLEW_LOCAL_UNSUPPORTED', 'local mode (clew run, clew demo) runs on Linux and macOS; on Windows run it under WSL');
}
