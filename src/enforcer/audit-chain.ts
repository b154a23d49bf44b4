import { createHash } from 'node:crypto';
import { canonicalJson } from '../common/canonical-json.js';
import type { UnixSeconds } from '../common/clock.js';

/**
 * The audit trail (DP-2.4a-b, DP-2.4f): who did what, when (UTC), to which zone, under which
 * ticket or comment, with the values before and after. Records form a hash chain (DP-2.4d):
 * each record's hash covers its content and the previous record's hash, so an edited, a
 * deleted or a reordered record breaks the chain from that point on. The chain alone cannot
 * tell that records were cut off its end: the same records go to the log system outside the
 * signer (DP-2.4e), whose last hash can be compared with `head`.
 */
export interface AuditInput {
  readonly at: UnixSeconds;
  /** The operator's personal identity (DP-2.7a), or `hms` for what the signer does by itself. */
  readonly actor: string;
  /** `<object>.<verb>`: `zone.add`, `key.put`, `request.approve` ... */
  readonly action: string;
  readonly zone: string | null;
  readonly ticket: string | null;
  readonly comment: string | null;
  /** JSON values (canonical JSON must be able to write them); never a secret. */
  readonly before: unknown;
  readonly after: unknown;
}

export interface AuditRecord extends AuditInput {
  /** 1, 2, 3 ...: no gaps. */
  readonly seq: number;
  /** The previous record's hash; GENESIS_HASH for the first. */
  readonly prevHash: string;
  /** SHA-256, hex, over auditHashInput(this record). */
  readonly hash: string;
}

/** Where committed audit records go besides the database: the structured log. */
export type AuditSink = (record: AuditRecord) => void;

export const GENESIS_HASH = '0'.repeat(64);

/** The fields an audit input is made of, and nothing else; before/after default to null. */
function auditInputOf(e: AuditInput): AuditInput {
  const { at, actor, action, zone, ticket, comment } = e;
  return { at, actor, action, zone, ticket, comment, before: e.before ?? null, after: e.after ?? null };
}

/** The bytes a record's hash covers: canonical JSON of every field but the hash itself. */
export function auditHashInput(r: Omit<AuditRecord, 'hash'>): string {
  return canonicalJson({ ...auditInputOf(r), seq: r.seq, prevHash: r.prevHash });
}

export function auditHash(r: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(auditHashInput(r), 'utf8').digest('hex');
}

/** The record that follows `prev` (null: the chain is empty). */
export function chainAuditRecord(input: AuditInput, prev: Pick<AuditRecord, 'seq' | 'hash'> | null): AuditRecord {
  const unhashed = {
    ...auditInputOf(input),
    seq: prev === null ? 1 : prev.seq + 1,
    prevHash: prev === null ? GENESIS_HASH : prev.hash,
  };
  return { ...unhashed, hash: auditHash(unhashed) };
}

export interface AuditVerification {
  readonly ok: boolean;
  /** Records read, the bad one included. */
  readonly checked: number;
  /** The first record that breaks the chain, and how. */
  readonly firstBad?: { readonly seq: number; readonly reason: string };
  /** The last good record, to compare with the external log. */
  readonly head?: { readonly seq: number; readonly hash: string };
}

/**
 * Checks records in the order they are stored, one at a time (the trail may be long). After
 * the first bad record the rest is counted but not judged: every later link depends on it.
 */
export class AuditChainVerifier {
  private checked = 0;
  private last: Pick<AuditRecord, 'seq' | 'hash'> | null = null;
  private bad: { seq: number; reason: string } | undefined;

  check(r: AuditRecord): void {
    this.checked++;
    if (this.bad !== undefined) return;
    const expectedSeq = this.last === null ? 1 : this.last.seq + 1;
    const expectedPrev = this.last === null ? GENESIS_HASH : this.last.hash;
    if (r.seq !== expectedSeq) {
      this.fail(
        r.seq,
        r.seq > expectedSeq
          ? `record(s) ${expectedSeq}${r.seq - 1 > expectedSeq ? `-${r.seq - 1}` : ''} missing before it`
          : `out of order: expected record ${expectedSeq}`,
      );
    } else if (r.prevHash !== expectedPrev) {
      this.fail(
        r.seq,
        this.last === null
          ? 'the first record does not start the chain'
          : `its prevHash is not the hash of record ${this.last.seq}: a record was removed or reordered`,
      );
    } else if (auditHash(r) !== r.hash) {
      this.fail(r.seq, 'its hash does not match its content: the record was edited');
    } else {
      this.last = { seq: r.seq, hash: r.hash };
    }
  }

  /** A record that could not even be read back (for example its before/after is no longer JSON). */
  reject(seq: number, reason: string): void {
    this.checked++;
    this.fail(seq, reason);
  }

  private fail(seq: number, reason: string): void {
    this.bad ??= { seq, reason };
  }

  result(): AuditVerification {
    return {
      ok: this.bad === undefined,
      checked: this.checked,
      ...(this.bad === undefined ? {} : { firstBad: this.bad }),
      ...(this.last === null ? {} : { head: this.last }),
    };
  }
}

/** Verifies a whole chain held in memory. */
export function verifyAuditChain(records: Iterable<AuditRecord>): AuditVerification {
  const v = new AuditChainVerifier();
  for (const r of records) v.check(r);
  return v.result();
}
