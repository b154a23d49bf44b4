import type { Command } from 'commander';
import { authorize } from '../config/access.js';
import { loadConfig, type HmsConfig } from '../config/config.js';
import { currentOperator } from '../config/identity.js';

/**
 * The state file: `--state`, else $HMS_STATE, else the configuration's (`--config` or
 * $HMS_CONFIG; the operator must then hold a role that may read the zone), else state/hms.db
 * below the current directory.
 */
export function statePath(opts: { state?: string; config?: string }, zone: string | null = null): string {
  return stateSource(opts, zone).path;
}

/** As statePath, with the configuration when the path came from one. */
export function stateSource(opts: { state?: string; config?: string }, zone: string | null = null): { path: string; config?: HmsConfig } {
  if (opts.state !== undefined) return { path: opts.state };
  if ((process.env.HMS_STATE ?? '') !== '') return { path: process.env.HMS_STATE! };
  const file = opts.config ?? process.env.HMS_CONFIG;
  if (file !== undefined && file !== '') {
    const config = loadConfig(file);
    authorize(config.access, currentOperator(), 'read', zone);
    return { path: config.state, config };
  }
  return { path: 'state/hms.db' };
}

export function stateOption(cmd: Command): Command {
  return cmd
    .option('--state <file>', "the state file (default: $HMS_STATE, else the configuration's, else state/hms.db)")
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)');
}
