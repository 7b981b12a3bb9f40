/** The explicit list of `clew` commands, in help order. */
import type { Command } from 'commander';
import { register as demo } from './cmd-demo.js';
import { register as controlPlane } from './cmd-control-plane.js';
import { register as proxy } from './cmd-proxy.js';
import { register as run } from './cmd-run.js';
import { register as validate } from './cmd-validate.js';
import { register as apply } from './cmd-apply.js';
import { register as del } from './cmd-delete.js';
import { register as get } from './cmd-get.js';
import { register as proxyStatus } from './cmd-proxy-status.js';
import { register as proxyConfig } from './cmd-proxy-config.js';
import { register as load } from './cmd-load.js';

export type RegisterCommand = (program: Command) => void;

export const COMMANDS: RegisterCommand[] = [
  demo,
  controlPlane,
  proxy,
  run,
  validate,
  apply,
  del,
  get,
  proxyStatus,
  proxyConfig,
  load,
];
