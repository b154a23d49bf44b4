import type { Command } from 'commander';

/** The state file: `--state`, else $HMS_STATE, else state/hms.db below the current directory. */
export function statePath(opts: { state?: string }): string {
  return opts.state ?? (process.env.HMS_STATE || 'state/hms.db');
}

export function stateOption(cmd: Command): Command {
  return cmd.option('--state <file>', 'the state file (default: $HMS_STATE, else state/hms.db)');
}
