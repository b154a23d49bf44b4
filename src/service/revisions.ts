import { createHash } from 'node:crypto';
import { decodeSoa } from '../dns/rdata/extract.js';
import type { AuditContext, RevisionRepository, RevisionRow } from '../enforcer/ports.js';
import { printZone } from '../zone/print.js';
import type { Zone } from '../zone/zone.js';

/**
 * Zone data under revision control (DP-2.6): each accepted input is kept in the state as its
 * canonical text (every record, absolute names, canonical order, SOA first), so that two
 * revisions compare line by line whatever the file's layout, comments or `$INCLUDE`s were.
 */
export function canonicalText(zone: Zone): string {
  return [...canonicalBatches(zone)].join('');
}

/** The canonical text a batch of whole lines at a time (some 64 KiB each): joined, canonicalText. */
function* canonicalBatches(zone: Zone): Generator<string> {
  let batch = '';
  for (const line of printZone(zone)) {
    batch += `${line}\n`;
    if (batch.length >= 1 << 16) {
      yield batch;
      batch = '';
    }
  }
  if (batch !== '') yield batch;
}

/**
 * Keeps `zone` as the next revision unless it equals the newest one; returns the revision.
 * The digest comes first, line by line: the whole text (some 45 MB for a million records,
 * and several times that on the heap while it is built) is made only for a new revision.
 */
export function keepRevision(store: RevisionRepository, zone: Zone, source: string, audit: AuditContext): RevisionRow {
  const sha256 = revisionDigest(zone);
  const newest = store.revisions(zone.origin.toString(), 1)[0];
  if (newest !== undefined && newest.sha256 === sha256) return newest;
  const serial = decodeSoa(zone.soa!.records[0]!.rdata).serial;
  return store.addRevision(zone.origin.toString(), { source, serial, records: zone.recordCount, sha256, text: canonicalText(zone) }, audit);
}

/**
 * What a revision of `zone` would be known by: the SHA-256 of its canonical text, hashed a
 * batch of lines at a time as they are printed (the same digest as of the text made whole).
 */
export function revisionDigest(zone: Zone): string {
  const hash = createHash('sha256');
  for (const batch of canonicalBatches(zone)) hash.update(batch);
  return hash.digest('hex');
}

/**
 * A digest of a zone's records in the order they were read (owner in its case, type, TTL,
 * RDATA): two reads with the same fingerprint hold the same records, so the same canonical
 * text and revision digest. Far cheaper than canonicalText over a big zone (a hash over the
 * records as they come, no sort, no text): a re-sign of an input unchanged since the revision
 * it kept need not print the whole zone again to know it.
 */
export class InputFingerprint {
  private readonly hash = createHash('sha256');
  private readonly buffer = Buffer.allocUnsafe(1 << 16);
  private at = 0;

  add(record: { readonly owner: { readonly wire: string }; readonly type: number; readonly ttl: number; readonly rdata: Uint8Array }): void {
    const owner = record.owner.wire;
    const length = 1 + owner.length + 8 + record.rdata.length;
    if (this.at + length > this.buffer.length) this.flush();
    if (length > this.buffer.length) {
      const b = Buffer.allocUnsafe(length);
      this.write(b, 0, record);
      this.hash.update(b);
      return;
    }
    this.at = this.write(this.buffer, this.at, record);
  }

  /** The hex SHA-256 of every record added (the fingerprint is done with). */
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }

  private write(b: Buffer, at: number, r: Parameters<InputFingerprint['add']>[0]): number {
    const owner = r.owner.wire;
    b[at++] = owner.length;
    at += b.write(owner, at, 'latin1');
    at = b.writeUInt16BE(r.type, at);
    at = b.writeUInt32BE(r.ttl >>> 0, at);
    at = b.writeUInt16BE(r.rdata.length, at);
    b.set(r.rdata, at);
    return at + r.rdata.length;
  }

  private flush(): void {
    if (this.at > 0) this.hash.update(this.buffer.subarray(0, this.at));
    this.at = 0;
  }
}

/** The difference of two revisions' canonical texts: records only in the first, records only in the second. */
export interface RevisionDiff {
  readonly removed: readonly string[];
  readonly added: readonly string[];
}

export function diffTexts(older: string, newer: string): RevisionDiff {
  const a = older.split('\n').filter((l) => l !== '');
  const b = newer.split('\n').filter((l) => l !== '');
  const inA = new Set(a);
  const inB = new Set(b);
  return { removed: a.filter((l) => !inB.has(l)), added: b.filter((l) => !inA.has(l)) };
}
