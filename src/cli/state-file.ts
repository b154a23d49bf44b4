import type { Command } from 'commander';
import { authorize } from '../config/access.js';
import { loadConfig } from '../config/config.js';
import { currentOperator } from '../config/identity.js';

/**
 * The state file: `--state`, else $HMS_STATE, else the configuration's (`--config` or
 * $HMS_CONFIG; the operator must then hold a role that may read the zone), else state/hms.db
 * below the current directory.
 */
export function statePath(opts: { state?: string; config?: string }, zone: string | null = null): string {
  if (opts.state !== undefined) return opts.state;
  if ((process.env.HMS_STATE ?? '') !== '') return process.env.HMS_STATE!;
  const config = opts.config ?? process.env.HMS_CONFIG;
  if (config !== undefined && config !== '') {
    const c = loadConfig(config);
    authorize(c.access, currentOperator(), 'read', zone);
    return c.state;
  }
  return 'state/hms.db';
}

export function stateOption(cmd: Command): Command {
  return cmd
    .option('--state <file>', 'the state file (default: $HMS_STATE, else the configuration\'s, else state/hms.db)')
    .option('--config <file>', 'the hms configuration (default: HMS_CONFIG)');
}
