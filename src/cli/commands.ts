/**
 * The explicit list of `clew` commands, in help order. Each command module is imported only when
 * needed: `clew proxy ...` loads cmd-proxy alone (the sidecar then carries none of the control
 * plane, config validation or demo code), help and unknown commands load them all.
 */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export interface CommandEntry {
  /** the word after `clew` */
  name: string;
  load: () => Promise<{ register: RegisterCommand }>;
}

export const COMMANDS: CommandEntry[] = [
  { name: 'demo', load: () => import('./cmd-demo.js') },
  { name: 'control-plane', load: () => import('./cmd-control-plane.js') },
  { name: 'proxy', load: () => import('./cmd-proxy.js') },
  { name: 'run', load: () => import('./cmd-run.js') },
  { name: 'iptables', load: () => import('./cmd-iptables.js') },
  { name: 'validate', load: () => import('./cmd-validate.js') },
  { name: 'analyze', load: () => import('./cmd-analyze.js') },
  { name: 'apply', load: () => import('./cmd-apply.js') },
  { name: 'delete', load: () => import('./cmd-delete.js') },
  { name: 'get', load: () => import('./cmd-get.js') },
  { name: 'proxy-status', load: () => import('./cmd-proxy-status.js') },
  { name: 'proxy-config', load: () => import('./cmd-proxy-config.js') },
  { name: 'load', load: () => import('./cmd-load.js') },
  { name: 'ratelimit', load: () => import('./cmd-ratelimit.js') },
  { name: 'kube-inject', load: () => import('./cmd-kube-inject.js') },
  { name: 'install', load: () => import('./cmd-install.js') },
  { name: 'uninstall', load: () => import('./cmd-uninstall.js') },
  { name: 'dashboard', load: () => import('./cmd-dashboard.js') },
];

/**
 * The commands to register for `argv` (process.argv form): the named one alone when the first
 * argument names a command, otherwise every command (help, version, a typo to report).
 */
export function commandsFor(argv: string[]): CommandEntry[] {
  const one = COMMANDS.find((c) => c.name === argv[2]);
  return one ? [one] : COMMANDS;
}
