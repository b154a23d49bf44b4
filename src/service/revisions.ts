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
  let text = '';
  for (const line of printZone(zone)) text += `${line}\n`;
  return text;
}

/** Keeps `zone` as the next revision unless it equals the newest one; returns the revision. */
export function keepRevision(store: RevisionRepository, zone: Zone, source: string, audit: AuditContext): RevisionRow {
  const text = canonicalText(zone);
  const sha256 = digestOf(text);
  const serial = decodeSoa(zone.soa!.records[0]!.rdata).serial;
  return store.addRevision(zone.origin.toString(), { source, serial, records: zone.recordCount, sha256, text }, audit);
}

/** What a revision of `zone` would be known by: the SHA-256 of its canonical text. */
export function revisionDigest(zone: Zone): string {
  return digestOf(canonicalText(zone));
}

const digestOf = (text: string): string => createHash('sha256').update(text).digest('hex');

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
