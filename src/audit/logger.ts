import { pino, type Logger } from 'pino';
import type { AuditRecord, AuditSink } from '../enforcer/audit-chain.js';

export interface LoggerOptions {
  /** pino's level name: `trace` ... `fatal`, or `silent`; default `info`. */
  readonly level?: string;
  /** A file path, or a file descriptor (1 stdout, 2 stderr); default stdout. */
  readonly destination?: string | number;
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

/**
 * The structured log: JSON lines with ISO-8601 UTC times, written synchronously so that a
 * line is out before the process can die; secret-looking fields are replaced by `[redacted]`.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    },
    pino.destination({ dest: options.destination ?? 1, sync: true }),
  );
}

/** Emits each audit record as one log line (`msg: 'audit'`), for the log system outside the signer (DP-2.4e). */
export function auditSink(logger: Logger): AuditSink {
  return (record: AuditRecord) => {
    logger.info({ zone: record.zone, action: record.action, audit: record }, 'audit');
  };
}
