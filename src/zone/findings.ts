import { SignerError } from '../common/errors.js';
import type { FindingCode } from '../common/error-codes.js';

export type Severity = 'error' | 'warning';

/** One problem found in a zone (Knot's semantic-check style: all are collected). */
export interface Finding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** Owner name in presentation form. */
  readonly owner: string;
  readonly type?: string;
  readonly file?: string;
  readonly line?: number;
  readonly message: string;
}

export function formatFinding(f: Finding): string {
  const where = f.file === undefined ? '' : `${f.file}:${f.line ?? 0}: `;
  const what = f.type === undefined ? f.owner : `${f.owner}/${f.type}`;
  return `${where}${f.severity}: ${what}: ${f.message} [${f.code}]`;
}

export function hasErrors(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}

/** A zone failed its checks: the error lists every finding. */
export class ZoneCheckError extends SignerError {
  readonly findings: readonly Finding[];

  constructor(zone: string, findings: readonly Finding[]) {
    const errors = findings.filter((f) => f.severity === 'error');
    super('ZONE_CHECK', `zone ${zone}: ${errors.length} error(s) found\n${errors.map(formatFinding).join('\n')}`, {
      details: { zone, findings },
    });
    this.findings = findings;
  }
}
