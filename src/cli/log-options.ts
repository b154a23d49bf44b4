import type { Command } from 'commander';
import { parseLogFormat, type LogFormat } from '../audit/log-format.js';
import { DEFAULT_PROGRESS_MS, SigningProgress, StatusLine } from '../audit/progress.js';
import { UsageError } from '../common/errors.js';

/** The global options of how hms logs, with their values (buildProgram looks past them). */
export const GLOBAL_LOG_OPTIONS = ['--log-format', '--progress-interval'] as const;

/** `--log-format` and `--progress-interval`, on the program: every command that logs reads them. */
export function addLogOptions(program: Command): Command {
  return program
    .option('--log-format <format>', 'json or pretty (one readable line per event); default: pretty when the log goes to a terminal, else JSON')
    .option('--progress-interval <seconds>', 'a long signing reports its progress in the log this often', String(DEFAULT_PROGRESS_MS / 1000));
}

export interface LogChoice {
  /** Undefined: not asked for (the destination decides). */
  readonly format: LogFormat | undefined;
  readonly progressMs: number;
}

/** The log options given to `cmd` or before it. */
export function logChoice(cmd: Command): LogChoice {
  const o = cmd.optsWithGlobals<{ logFormat?: string; progressInterval?: string }>();
  const text = o.progressInterval ?? String(DEFAULT_PROGRESS_MS / 1000);
  const seconds = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || seconds < 0.01 || seconds > 86_400)
    throw new UsageError(`--progress-interval: '${text}' is not a number of seconds from 0.01 to 86400`);
  return { format: o.logFormat === undefined ? undefined : parseLogFormat(o.logFormat), progressMs: Math.round(seconds * 1000) };
}

/** argv without the global log options in front of the command (so the command's name is first). */
export function withoutLogOptions(argv: readonly string[]): readonly string[] {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if ((GLOBAL_LOG_OPTIONS as readonly string[]).includes(a)) i += 2;
    else if (GLOBAL_LOG_OPTIONS.some((o) => a.startsWith(`${o}=`))) i += 1;
    else break;
  }
  return argv.slice(i);
}

/**
 * The progress of a signing by a command (`hms sign`), whose log is stderr (stdout holds its
 * result): a bar drawn in place when stderr is a terminal, else `signing progress` lines in
 * the log there (both when --log-format is given on a terminal).
 */
export async function signingProgressOnStderr(zone: string, choice: LogChoice): Promise<SigningProgress> {
  const bar = StatusLine.onStderr();
  if (bar !== undefined && choice.format === undefined) return new SigningProgress({ fields: { zone }, bar, everyMs: choice.progressMs });
  // the logger (pino) only when there are lines to write
  const { createLogger } = await import('../audit/logger.js');
  const log = createLogger({
    destination: 2,
    ...(choice.format === undefined ? {} : { format: choice.format }),
    ...(bar === undefined ? {} : { statusLine: bar }),
  });
  return new SigningProgress({
    fields: { zone },
    log: (fields, msg) => log.info(fields, msg),
    everyMs: choice.progressMs,
    ...(bar === undefined ? {} : { bar }),
  });
}
