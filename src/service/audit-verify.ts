import { existsSync } from 'node:fs';
import { readCheckpointFile, readLogFile } from '../audit/witness-file.js';
import type { UnixSeconds } from '../common/clock.js';
import type { AuditVerification } from '../enforcer/audit-chain.js';
import { compareAuditWitnesses, type WitnessComparison } from '../enforcer/audit-witness.js';
import type { AuditTrail } from '../enforcer/ports.js';

export interface AuditCopySource {
  readonly file: string;
  readonly kind: 'checkpoint' | 'log';
  /** Named by the operator: a missing file is an error. Else (the configured checkpoint) a warning. */
  readonly explicit: boolean;
}

export interface AuditCopyResult {
  readonly file: string;
  readonly kind: 'checkpoint' | 'log';
  readonly exists: boolean;
  readonly compared: number;
  readonly confirmedUpTo: number;
}

/** The first record that is bad, by the chain or by an outside copy: its seq, time and how. */
export interface AuditFirstBad {
  /** null: a checkpoint line that names no record (edited, or torn by a crash). */
  readonly seq: number | null;
  readonly at: UnixSeconds | null;
  readonly reason: string;
  /** The outside copy that differs (`file:line`), when it is a copy that tells. */
  readonly where?: string;
}

export interface AuditTrailReport extends Omit<AuditVerification, 'firstBad'> {
  /** The newest record in the state (0: none). */
  readonly lastSeq: number;
  readonly copies: readonly AuditCopyResult[];
  readonly firstBad?: AuditFirstBad;
  /** The highest record an outside copy vouches for (0: none). */
  readonly confirmedUpTo: number;
  /** Records no outside copy vouches for: newer than every checkpoint and log line. */
  readonly unconfirmed?: { readonly from: number; readonly to: number };
  readonly warnings: readonly string[];
}

/**
 * `hms audit verify` (DP-2.4d): walks the chain, then compares it with each outside copy (the
 * checkpoint, log files). The first bad record is the lowest-numbered one that the chain or
 * any copy finds. Records newer than every copy are a warning, not a failure: a crash between
 * a commit and its checkpoint line leaves exactly that, and the chain still holds them
 * together; the warning names them so that a person can compare them with syslog.
 */
export function verifyAuditTrail(store: AuditTrail, sources: readonly AuditCopySource[]): AuditTrailReport {
  const chain = store.verifyAudit();
  const lastSeq = store.lastAuditSeq();
  const lookup = (seq: number) => store.auditHashOf(seq);
  const warnings: string[] = [];
  const copies: AuditCopyResult[] = [];
  let firstBad: AuditFirstBad | undefined = chain.firstBad === undefined ? undefined : { ...chain.firstBad, at: lookup(chain.firstBad.seq)?.at ?? null };
  const worse = (f: AuditFirstBad): void => {
    if (firstBad === undefined || f.seq! < firstBad.seq!) firstBad = f;
  };
  let unreadable: { where: string; problem: string } | undefined;
  let confirmedUpTo = 0;
  for (const source of sources) {
    if (!source.explicit && !existsSync(source.file)) {
      copies.push({ file: source.file, kind: source.kind, exists: false, compared: 0, confirmedUpTo: 0 });
      if (lastSeq > 0) warnings.push(`${source.file}: no such ${source.kind} file`);
      continue;
    }
    const result: WitnessComparison = compareAuditWitnesses(
      source.kind === 'checkpoint' ? readCheckpointFile(source.file) : readLogFile(source.file),
      lookup,
      lastSeq,
    );
    copies.push({ file: source.file, kind: source.kind, exists: true, compared: result.compared, confirmedUpTo: result.confirmedUpTo });
    confirmedUpTo = Math.max(confirmedUpTo, result.confirmedUpTo);
    if (result.firstDifference !== undefined) {
      const d = result.firstDifference;
      worse({ seq: d.seq, at: d.at, reason: d.what, where: d.where });
    }
    unreadable ??= result.firstUnreadable;
  }
  // a line that is no checkpoint line names no record: it counts when nothing else is wrong
  if (firstBad === undefined && unreadable !== undefined) firstBad = { seq: null, at: null, reason: unreadable.problem, where: unreadable.where };
  const unconfirmed = sources.length > 0 && confirmedUpTo < lastSeq ? { from: confirmedUpTo + 1, to: lastSeq } : undefined;
  if (unconfirmed !== undefined) {
    const range = unconfirmed.from === unconfirmed.to ? `record ${unconfirmed.from} is` : `records ${unconfirmed.from}-${unconfirmed.to} are`;
    warnings.push(
      `${range} newer than every outside copy (${copies.map((c) => c.file).join(', ')}): nothing outside the state vouches for ${unconfirmed.from === unconfirmed.to ? 'it' : 'them'}; compare with syslog`,
    );
  }
  const { firstBad: _chainBad, ...chainRest } = chain;
  void _chainBad;
  return {
    ...chainRest,
    ok: firstBad === undefined,
    lastSeq,
    copies,
    ...(firstBad === undefined ? {} : { firstBad }),
    confirmedUpTo,
    ...(unconfirmed === undefined ? {} : { unconfirmed }),
    warnings,
  };
}
