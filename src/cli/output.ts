import { EXIT } from '../common/error-codes.js';
import { SignerError } from '../common/errors.js';

/** Writes a line to stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The exit code an error maps to (STYLE.md: 1 failure, 2 usage, 3 invalid input, 4 policy, 5 HSM). */
export function exitCodeFor(error: unknown): number {
  if (!(error instanceof SignerError)) return EXIT.FAILURE;
  switch (error.code) {
    case 'USAGE':
      return EXIT.USAGE;
    case 'ZONE_SYNTAX':
    case 'ZONE_INCLUDE':
    case 'INPUT_REFUSED':
    case 'NAME_SYNTAX':
    case 'WIRE_FORMAT':
    case 'ZONE_CHECK':
    case 'POLICY':
    case 'CONFIG':
    case 'TSIG':
    case 'BACKUP':
      return EXIT.INVALID_INPUT;
    case 'DNSSEC':
    case 'APPROVAL':
    case 'AUDIT_TAMPERED':
    case 'PERMISSION':
      return EXIT.POLICY;
    case 'HSM':
      return EXIT.HSM;
    case 'TRANSFER':
      return EXIT.NETWORK;
    default:
      return EXIT.FAILURE;
  }
}

/** Reports an error on stderr (or as `{error:{code,message,details}}` on stdout with --json). */
export function reportError(error: unknown, json: boolean): void {
  if (json) {
    const body =
      error instanceof SignerError ? error.toJSON() : { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), details: {} };
    outJson({ error: body });
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`hms: ${message}\n`);
}

/** Sets the exit code without ending the process (so stdout drains); main.ts decides the rest. */
export function setExitCode(code: number): void {
  process.exitCode = code;
}
