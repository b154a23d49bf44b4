import type { ErrorCode } from './error-codes.js';

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

/** A zone file could not be read: `file:line:col: what (near 'token')`. */
export class ZoneSyntaxError extends SignerError {
  readonly location: TextLocation;
  readonly reason: string;

  constructor(location: TextLocation, reason: string, near?: string, code: ErrorCode = 'ZONE_SYNTAX') {
    const nearText = near === undefined ? '' : ` (near '${near.length > 40 ? `${near.slice(0, 40)}...` : near}')`;
    super(code, `${formatLocation(location)}: ${reason}${nearText}`, {
      details: { ...location, reason, ...(near === undefined ? {} : { near }) },
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
