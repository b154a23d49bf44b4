import { isatty } from 'node:tty';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { AuditRecord, AuditSink } from '../enforcer/audit-chain.js';
import { formatPrettyLine, type LogFormat } from './log-format.js';
import type { StatusLine } from './progress.js';

export interface LoggerOptions {
  /** pino's level name: `trace` ... `fatal`, or `silent`; default `info`. */
  readonly level?: string;
  /** A file path, or a file descriptor (1 stdout, 2 stderr); default stdout. */
  readonly destination?: string | number;
  /** `json` or `pretty`; default pretty when the destination is a terminal, else JSON. */
  readonly format?: LogFormat;
  /** Colours in pretty lines; default when the destination is a terminal and NO_COLOR is not set. */
  readonly color?: boolean;
  /** A progress bar on the same terminal: each line is written with the bar out of its way. */
  readonly statusLine?: StatusLine;
}

/** Field names that may hold a secret (DP-3.1b): their values never reach a log line. */
const SECRET_FIELDS = ['pin', 'soPin', 'secret', 'password', 'passphrase', 'privateKey'];

/**
 * The redaction paths: each secret field at the top, one level down, under `tsig.<name>`, and
 * in the before/after values of an audit record. A second line of defence: the code does not
 * put secrets in logs in the first place.
 */
export const REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `audit.before.${f}`, `audit.after.${f}`, `audit.before.*.${f}`, `audit.after.*.${f}`]),
  'tsig.*.secret',
];

/** Is the log's destination a terminal (a file descriptor that is a TTY)? */
function isTerminal(destination: string | number): boolean {
  return typeof destination === 'number' && isatty(destination);
}

/** The format a log takes when none is asked for: pretty on a terminal, JSON elsewhere (DK-16: UTC either way). */
export function defaultLogFormat(destination: string | number = 1): LogFormat {
  return isTerminal(destination) ? 'pretty' : 'json';
}

/**
 * The structured log: JSON lines with ISO-8601 UTC times, or (`format: 'pretty'`) one readable
 * line per event with the same UTC time (formatPrettyLine); written synchronously either way,
 * so that a line is out before the process can die. Secret-looking fields are replaced by
 * `[redacted]` before a line is formatted, so the redaction holds in both formats.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const dest = options.destination ?? 1;
  const file = pino.destination({ dest, sync: true });
  const format = options.format ?? defaultLogFormat(dest);
  const color = options.color ?? (format === 'pretty' && isTerminal(dest) && (process.env.NO_COLOR ?? '') === '');
  const status = options.statusLine !== undefined && isTerminal(dest) ? options.statusLine : undefined;
  const stream: DestinationStream =
    format === 'json' && status === undefined
      ? file
      : {
          write(line: string): void {
            const text = format === 'pretty' ? `${formatPrettyLine(line, { color })}\n` : line;
            if (status === undefined) file.write(text);
            else status.around(() => file.write(text));
          },
        };
  return pino(
    {
      level: options.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    stream,
  );
}

/** Emits each audit record as one log line (`msg: 'audit'`), for the log system outside the signer (DP-2.4e). */
export function auditSink(logger: Logger): AuditSink {
  return (record: AuditRecord) => {
    logger.info({ zone: record.zone, action: record.action, audit: record }, 'audit');
  };
}
