import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import type { AuditRecord } from './audit-chain.js';

/**
 * Copies of the audit chain kept outside the state (DP-2.4d, DP-2.4e): each committed
 * record's seq and hash go to a checkpoint file, to the structured log and to syslog. The
 * chain alone cannot tell a rewrite whose later hashes were all recomputed; a copy of any
 * later hash can: once record N's hash matches its outside copy, the chain vouches for every
 * record up to N. This file holds the line formats (written and read here only) and the
 * comparison; reading and writing the files is the edge's.
 */
export interface AuditWitness {
  readonly seq: number;
  readonly hash: string;
  /** The record's time as the copy gives it (a log line may lack it). */
  readonly at: UnixSeconds | null;
  /** Where the copy is: `file:line`. */
  readonly where: string;
}

/**
 * Where audit records go by syslog (DP-2.4e, DK-16: a log system outside the signer): the
 * local syslog (its /dev/log socket, which forwards as the host is set up), or a syslog
 * server straight by UDP or TCP.
 */
export type SyslogTarget =
  { readonly kind: 'local' } | { readonly kind: 'server'; readonly host: string; readonly port: number; readonly protocol: 'udp' | 'tcp' };

/** A line of a checkpoint file that is not a checkpoint line: an edit, or a torn write. */
export interface UnreadableWitness {
  readonly where: string;
  readonly problem: string;
}

/** What the comparison needs of a record in the state. */
export type StateRecordHash = Pick<AuditRecord, 'seq' | 'at' | 'hash'>;

export interface WitnessFinding {
  readonly seq: number;
  readonly at: UnixSeconds | null;
  readonly what: string;
  readonly where: string;
}

export interface WitnessComparison {
  /** Outside copies compared (lines that named a record). */
  readonly compared: number;
  /** The lowest-numbered record whose outside copy differs from the state or has no record there. */
  readonly firstDifference?: WitnessFinding;
  /** The highest seq whose hash in the state equals an outside copy: the chain vouches for every record up to it. */
  readonly confirmedUpTo: number;
  /** The first line of a checkpoint file that is no checkpoint line. */
  readonly firstUnreadable?: UnreadableWitness;
}

const HASH = /^[0-9a-f]{64}$/;
/** The syslog message: seq and hash first, so that a short syslog line limit never cuts them. */
const SYSLOG_LINE = /\baudit seq=(\d+) hash=([0-9a-f]{64})(?: at=(\S+))?/;

/** One line of the checkpoint file (JSON, about 110 octets with its newline). */
export function formatCheckpointLine(r: StateRecordHash): string {
  return `${JSON.stringify({ seq: r.seq, at: isoSeconds(r.at), hash: r.hash })}\n`;
}

/** The syslog message of a record; no before/after values, only what names the record. */
export function formatSyslogMessage(r: Pick<AuditRecord, 'seq' | 'at' | 'hash' | 'action' | 'zone' | 'actor'>): string {
  return `audit seq=${r.seq} hash=${r.hash} at=${isoSeconds(r.at)} action=${r.action} zone=${r.zone ?? '-'} actor=${r.actor}`;
}

function timeOf(value: unknown): UnixSeconds | null {
  const ms = typeof value === 'string' ? Date.parse(value) : typeof value === 'number' ? value * 1000 : NaN;
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

function witnessOf(value: Record<string, unknown>, where: string): AuditWitness | undefined {
  const { seq, hash } = value;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || typeof hash !== 'string' || !HASH.test(hash)) return undefined;
  return { seq, hash, at: timeOf(value.at), where };
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A checkpoint line: the witness, or why it is not one. */
export function parseCheckpointLine(text: string, where: string): AuditWitness | UnreadableWitness {
  const value = jsonObject(text);
  const witness = value === undefined ? undefined : witnessOf(value, where);
  return witness ?? { where, problem: `not a checkpoint line (expected {"seq":N,"at":TIME,"hash":HEX}): '${text.slice(0, 80)}'` };
}

/**
 * A line of a log file: the pino line of an audit record (`"msg":"audit"`, the record under
 * `audit`), or a syslog line with the `audit seq=N hash=H` message; undefined for any other
 * line (logs hold much else).
 */
export function parseLogLine(text: string, where: string): AuditWitness | undefined {
  const value = jsonObject(text);
  if (value !== undefined) {
    const audit = value.audit;
    if (value.msg !== 'audit' || typeof audit !== 'object' || audit === null) return undefined;
    return witnessOf(audit as Record<string, unknown>, where);
  }
  const m = SYSLOG_LINE.exec(text);
  if (m === null) return undefined;
  return { seq: Number(m[1]), hash: m[2]!, at: timeOf(m[3]), where };
}

const short = (hash: string): string => `${hash.slice(0, 16)}...`;

/**
 * Compares outside copies with the state, copy by copy: `lookup` gives the state's record of
 * a seq, `lastSeq` is the state's newest (0: none). A copy whose record the state lacks means
 * the trail was cut; a copy whose hash differs means that record, or one before it, was
 * rewritten (its hash covers every earlier one). The copies may come in any order.
 */
export function compareAuditWitnesses(
  witnesses: Iterable<AuditWitness | UnreadableWitness>,
  lookup: (seq: number) => StateRecordHash | undefined,
  lastSeq: number,
): WitnessComparison {
  let compared = 0;
  let confirmedUpTo = 0;
  let first: WitnessFinding | undefined;
  let unreadable: UnreadableWitness | undefined;
  const found = (f: WitnessFinding): void => {
    if (first === undefined || f.seq < first.seq) first = f;
  };
  for (const w of witnesses) {
    if ('problem' in w) {
      unreadable ??= w;
      continue;
    }
    compared++;
    const r = lookup(w.seq);
    if (r === undefined) {
      found({
        seq: w.seq,
        at: w.at,
        where: w.where,
        what:
          w.seq > lastSeq
            ? `the record is in ${w.where} but not in the state, which ends at record ${lastSeq}: the trail was cut off`
            : `the record is in ${w.where} but missing from the state`,
      });
    } else if (r.hash !== w.hash) {
      found({
        seq: w.seq,
        at: r.at,
        where: w.where,
        what: `its hash ${short(r.hash)} differs from ${short(w.hash)} in ${w.where}: this record or one before it was rewritten`,
      });
    } else {
      confirmedUpTo = Math.max(confirmedUpTo, w.seq);
    }
  }
  return {
    compared,
    confirmedUpTo,
    ...(first === undefined ? {} : { firstDifference: first }),
    ...(unreadable === undefined ? {} : { firstUnreadable: unreadable }),
  };
}
