import type { ErrorCode } from './error-codes.js';
import { isoSeconds, type UnixSeconds } from './clock.js';

export interface ErrorOptions {
  readonly details?: Record<string, unknown>;
  readonly cause?: unknown;
}

/** The base of every error hms raises on purpose. */
export class SignerError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options.details ?? {};
  }

  toJSON(): { code: ErrorCode; message: string; details: Readonly<Record<string, unknown>> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** Where in a text input a problem is. */
export interface TextLocation {
  readonly file: string;
  readonly line: number;
  readonly col?: number;
}

export function formatLocation(loc: TextLocation): string {
  return loc.col === undefined ? `${loc.file}:${loc.line}` : `${loc.file}:${loc.line}:${loc.col}`;
}

/** How much of a piece of input an error quotes: a 10 MB token stays out of errors and logs. */
export const EXCERPT_LENGTH = 40;

/** At most `max` characters of `text`, with `...` when cut. */
export function excerpt(text: string, max = EXCERPT_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}

/** Control characters (C0, DEL, C1): an error shows them as `\DDD`, never raw to a terminal or a log line. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** `text` with every control character written as `\DDD` (the master-file escape): ESC, CR, NUL... */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\${c.charCodeAt(0).toString().padStart(3, '0')}`);
}

/**
 * A piece of input as an error quotes it: `'text'`, or its start and its length when it is
 * longer than `max` (`'XXXX...' (10000000 characters)`), with control characters as `\DDD`
 * (a terminal escape in a zone file must not clear the screen of whoever reads the error).
 * Every error that quotes input uses it.
 */
export function quote(text: string, max = EXCERPT_LENGTH): string {
  return text.length <= max ? `'${printable(text)}'` : `'${printable(excerpt(text, max))}' (${text.length} characters)`;
}

/** The longest reason a ZoneSyntaxError carries (the input it quotes is cut by quote). */
const REASON_LENGTH = 200;

/** A zone file could not be read: `file:line:col: what (near 'token')`. */
export class ZoneSyntaxError extends SignerError {
  readonly location: TextLocation;
  readonly reason: string;

  constructor(location: TextLocation, reason: string, near?: string, code: ErrorCode = 'ZONE_SYNTAX') {
    // a reason that quotes input not through quote() (an $INCLUDE resolver's message that
    // repeats the path) is cut and escaped all the same
    reason = excerpt(printable(reason.length > REASON_LENGTH ? reason.slice(0, REASON_LENGTH + 1) : reason), REASON_LENGTH);
    const nearText = near === undefined ? '' : ` (near ${quote(near)})`;
    super(code, `${formatLocation(location)}: ${reason}${nearText}`, {
      details: { ...location, reason, ...(near === undefined ? {} : { near: excerpt(near) }) },
    });
    this.location = location;
    this.reason = reason;
  }
}

/** A domain name or a value inside a record is malformed; the parser adds the location. */
export class ValueError extends SignerError {
  constructor(message: string, code: ErrorCode = 'ZONE_SYNTAX') {
    super(code, message);
  }
}

/** Wire-format data is malformed: `message offset N in section: what`. */
export class WireFormatError extends SignerError {
  constructor(message: string, offset?: number) {
    super('WIRE_FORMAT', offset === undefined ? message : `offset ${offset}: ${message}`, {
      details: offset === undefined ? {} : { offset },
    });
  }
}

export class UsageError extends SignerError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/**
 * One problem with a key and signing policy: where it is, which policy and field, what is
 * wrong and, when a rule is broken, the requirement it breaks (`DP-4.1c`, `RFC 9276 3.1`).
 */
export interface PolicyProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** The policy's name; absent for a problem outside every policy. */
  readonly policy?: string;
  /** The field path as written in the file (`keys.zsk.bits`, `parent.ds-digests[1]`). */
  readonly field?: string;
  readonly requirement?: string;
  readonly message: string;
}

/** `kasp/bad.yaml:12:5: policy 'dp' keys.zsk.bits: 512 is below 1024 (DP-4.1c)` */
export function formatPolicyProblem(p: PolicyProblem): string {
  const policy = p.policy === undefined ? '' : `policy '${p.policy}' `;
  const field = p.field === undefined ? '' : `${p.field}: `;
  const requirement = p.requirement === undefined ? '' : ` (${p.requirement})`;
  return `${formatLocation(p)}: ${policy}${field}${p.message}${requirement}`;
}

/** A policy file was refused: the error lists every problem found, not only the first. */
export class PolicyError extends SignerError {
  readonly problems: readonly PolicyProblem[];

  constructor(file: string, problems: readonly PolicyProblem[]) {
    super('POLICY', `${file}: ${problems.length} problem(s) in the policy file\n${problems.map(formatPolicyProblem).join('\n')}`, {
      details: { file, problems },
    });
    this.problems = problems;
  }
}

/** The state database refused an operation: `state/hms.db: zone example.com. has 2 key(s)`. */
export class StateError extends SignerError {
  constructor(message: string, options: ErrorOptions & { code?: 'STATE' | 'STATE_SCHEMA' } = {}) {
    super(options.code ?? 'STATE', message, options);
  }
}

/** An approval was refused (DP-4.7d): `request R-0001: alice cannot approve her own request`. */
export class ApprovalError extends SignerError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('APPROVAL', message, { details });
  }
}

/** The audit chain is broken (DP-2.4d): `state/hms.db: audit record 3: ...`. */
export class AuditChainError extends SignerError {
  /**
   * `firstBad`: the first bad record (seq and, when known, its time), or a checkpoint line
   * that names no record (seq null, `where` its file:line).
   */
  constructor(
    file: string,
    firstBad: { readonly seq: number | null; readonly reason: string; readonly at?: UnixSeconds | null; readonly where?: string },
    checked: number,
  ) {
    const when = firstBad.at === undefined || firstBad.at === null ? '' : ` of ${isoSeconds(firstBad.at)}`;
    const what =
      firstBad.seq === null
        ? `${firstBad.where ?? 'checkpoint'}: ${firstBad.reason}`
        : `audit record ${firstBad.seq}: ${firstBad.reason}${when === '' ? '' : ` (the record${when})`}`;
    super('AUDIT_TAMPERED', `${file}: ${what} (DP-2.4d)`, { details: { file, firstBad, checked } });
  }
}

/** The hms configuration file could not be read: every problem, with its file:line:col. */
export class ConfigError extends SignerError {
  readonly problems: readonly PolicyProblem[];

  constructor(file: string, problems: readonly PolicyProblem[]) {
    super('CONFIG', `${file}: ${problems.length} problem(s) in the configuration\n${problems.map(formatPolicyProblem).join('\n')}`, {
      details: { file, problems },
    });
    this.problems = problems;
  }
}

/** An operator lacks the role for an action on a zone (DP-2.8b). */
export class PermissionError extends SignerError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('PERMISSION', message, { details });
  }
}

/** A TSIG key or algorithm was refused locally: an MD5 algorithm (DP-3.5c), a bad secret. */
export class TsigError extends SignerError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('TSIG', message, { details });
  }
}

/** The transfer server could not start or stop: `transfer server 127.0.0.1:53/tcp: EADDRINUSE`. */
export class TransferError extends SignerError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('TRANSFER', message, options);
  }
}
