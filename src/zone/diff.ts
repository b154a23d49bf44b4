import { ValueError } from '../common/errors.js';
import { toHex } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { canonicalRdata } from '../dns/rdata/index.js';
import { RRType, typeToString } from '../dns/types.js';
import { ZoneBuilder, type RRset, type RRsetView, type Zone } from './zone.js';

/** One record of a difference: owner, type, TTL and RDATA (class IN). */
export interface DiffRecord {
  readonly owner: Name;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/**
 * The difference between two versions of a zone, as IXFR carries it (RFC 1995 section 4):
 * the old SOA, the records deleted, the new SOA, the records added. The apex SOA itself is in
 * `from` and `to` only, never in `deleted` or `added`.
 */
export interface ZoneDiff {
  readonly from: DiffRecord;
  readonly to: DiffRecord;
  readonly deleted: readonly DiffRecord[];
  readonly added: readonly DiffRecord[];
}

/** The serial of an SOA record's RDATA (its fifth-last 32-bit field). */
export function soaSerial(rdata: Uint8Array): number {
  if (rdata.length < 22) throw new ValueError(`SOA RDATA of ${rdata.length} octets is too short`);
  return new DataView(rdata.buffer, rdata.byteOffset, rdata.length).getUint32(rdata.length - 20);
}

/** The apex SOA of a zone (or of any version of one) as a record; a zone without one is refused. */
export function soaRecord(zone: { readonly origin: Name; readonly soa: RRsetView | undefined }): DiffRecord {
  const soa = zone.soa?.records[0];
  if (soa === undefined) throw new ValueError(`zone ${zone.origin.toString()} has no SOA`);
  return { owner: zone.origin, type: RRType.SOA, ttl: soa.ttl, rdata: soa.rdata };
}

/** A record's identity inside a zone: owner, type and canonical RDATA (not the TTL). */
function recordKey(owner: Name, type: number, rdata: Uint8Array): string {
  return `${owner.key}\0${type}\0${toHex(canonicalRdata(type, rdata))}`;
}

const setKey = (owner: Name, type: number): string => `${owner.key}\0${type}`;

/** Is the RRset the apex SOA (which a diff carries in `from` and `to`)? */
function isApexSoa(zone: Zone, set: RRset): boolean {
  return set.type === RRType.SOA && set.owner.equals(zone.origin);
}

/**
 * The difference from `old` to `next` (two versions of one zone): every record of `old` that
 * `next` lacks is deleted, every record of `next` that `old` lacks is added; a record whose TTL
 * changed is both. Both zones' nodes are walked once, in their canonical order.
 */
export function diffZones(old: Zone, next: Zone): ZoneDiff {
  if (!old.origin.equals(next.origin)) throw new ValueError(`cannot diff ${old.origin.toString()} against ${next.origin.toString()}`);
  const deleted: DiffRecord[] = [];
  const added: DiffRecord[] = [];
  const a = old.nodes;
  const b = next.nodes;
  let i = 0;
  let j = 0;
  let keyA = a[0]?.name.canonicalKey();
  let keyB = b[0]?.name.canonicalKey();
  while (keyA !== undefined || keyB !== undefined) {
    if (keyB === undefined || (keyA !== undefined && keyA < keyB)) {
      for (const set of a[i]!.rrsets) if (!isApexSoa(old, set)) pushAll(deleted, set, set.records);
      keyA = a[++i]?.name.canonicalKey();
    } else if (keyA === undefined || keyB < keyA) {
      for (const set of b[j]!.rrsets) if (!isApexSoa(next, set)) pushAll(added, set, set.records);
      keyB = b[++j]?.name.canonicalKey();
    } else {
      diffNode(old, a[i]!.rrsets, b[j]!.rrsets, deleted, added);
      keyA = a[++i]?.name.canonicalKey();
      keyB = b[++j]?.name.canonicalKey();
    }
  }
  return { from: soaRecord(old), to: soaRecord(next), deleted, added };
}

function pushAll(out: DiffRecord[], set: RRset, records: RRset['records']): void {
  for (const r of records) out.push({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata });
}

/** The RRsets of one name in both versions (each list by type, ascending). */
function diffNode(zone: Zone, a: readonly RRset[], b: readonly RRset[], deleted: DiffRecord[], added: DiffRecord[]): void {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const sa = a[i];
    const sb = b[j];
    if (sb === undefined || (sa !== undefined && sa.type < sb.type)) {
      if (!isApexSoa(zone, sa!)) pushAll(deleted, sa!, sa!.records);
      i++;
    } else if (sa === undefined || sb.type < sa.type) {
      if (!isApexSoa(zone, sb)) pushAll(added, sb, sb.records);
      j++;
    } else {
      if (!isApexSoa(zone, sa)) diffRRset(sa, sb, deleted, added);
      i++;
      j++;
    }
  }
}

/** Two versions of one RRset; the common case (nothing changed) costs one pass of byte compares. */
function diffRRset(a: RRset, b: RRset, deleted: DiffRecord[], added: DiffRecord[]): void {
  if (a.records.length === b.records.length && a.records.every((r, k) => r.ttl === b.records[k]!.ttl && Buffer.compare(r.rdata, b.records[k]!.rdata) === 0))
    return;
  const inA = new Map(a.records.map((r) => [`${r.ttl} ${toHex(canonicalRdata(a.type, r.rdata))}`, r]));
  const inB = new Map(b.records.map((r) => [`${r.ttl} ${toHex(canonicalRdata(b.type, r.rdata))}`, r]));
  pushAll(
    deleted,
    a,
    [...inA].filter(([k]) => !inB.has(k)).map(([, r]) => r),
  );
  pushAll(
    added,
    b,
    [...inB].filter(([k]) => !inA.has(k)).map(([, r]) => r),
  );
}

/** What a run of diffs does to one record (by owner, type and RDATA). */
interface NetChange {
  /** The first thing done to it was a delete: the base zone must hold it. */
  readonly isInBase: boolean;
  /** The record as the last diff leaves it (absent: deleted). */
  final: DiffRecord | undefined;
  /** Seen in the base zone while applying. */
  isFound: boolean;
  /** The record as the first diff names it. */
  readonly first: DiffRecord;
}

/**
 * Applies diffs, in order, to a zone (an IXFR received, RFC 1995 section 4): each must start
 * at the serial the one before ends at, the first at the zone's. A delete of a record the zone
 * does not hold, or an add of one it holds already, is refused (a ValueError naming the
 * record): the zone and the diffs do not belong together. The result is built once, whatever
 * the number of diffs; records keep `where` as their file and their position as their line.
 */
export function applyDiffs(zone: Zone, diffs: readonly ZoneDiff[], where: string): Zone {
  let serial = soaSerial(soaRecord(zone).rdata);
  const changes = new Map<string, NetChange>();
  const touched = new Set<string>();
  for (const diff of diffs) {
    if (soaSerial(diff.from.rdata) !== serial)
      throw new ValueError(`${where}: a diff starts at serial ${soaSerial(diff.from.rdata)}, the zone is at ${serial}`);
    for (const r of diff.deleted) change(changes, touched, r, false, where);
    for (const r of diff.added) change(changes, touched, r, true, where);
    serial = soaSerial(diff.to.rdata);
  }
  const soa = diffs.length === 0 ? soaRecord(zone) : diffs[diffs.length - 1]!.to;
  const builder = new ZoneBuilder(zone.origin);
  let line = 0;
  const add = (r: DiffRecord): void => builder.add({ owner: r.owner, type: r.type, ttl: r.ttl, rdata: r.rdata, file: where, line: ++line });
  add(soa);
  for (const set of zone.rrsets()) {
    if (isApexSoa(zone, set)) continue;
    const isTouched = touched.has(setKey(set.owner, set.type));
    for (const r of set.records) {
      const c = isTouched ? changes.get(recordKey(set.owner, set.type, r.rdata)) : undefined;
      if (c === undefined) add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata });
      else {
        if (!c.isInBase) throw new ValueError(`${where}: adds ${describe(set.owner, set.type)}, which the zone holds already`);
        c.isFound = true;
        if (c.final !== undefined) add(c.final);
      }
    }
  }
  for (const c of changes.values()) {
    if (c.isInBase && !c.isFound) throw new ValueError(`${where}: deletes ${describe(c.first.owner, c.first.type)}, which the zone does not hold`);
    if (!c.isInBase && c.final !== undefined) add(c.final);
  }
  return builder.freeze();
}

function describe(owner: Name, type: number): string {
  return `${owner.toString()}/${typeToString(type)}`;
}

/** Notes one delete or add of a diff in the net changes. */
function change(changes: Map<string, NetChange>, touched: Set<string>, r: DiffRecord, isAdd: boolean, where: string): void {
  const key = recordKey(r.owner, r.type, r.rdata);
  touched.add(setKey(r.owner, r.type));
  const c = changes.get(key);
  if (c === undefined) {
    changes.set(key, { isInBase: !isAdd, final: isAdd ? r : undefined, isFound: false, first: r });
    return;
  }
  if (isAdd && c.final !== undefined) throw new ValueError(`${where}: adds ${describe(r.owner, r.type)} twice`);
  if (!isAdd && c.final === undefined) throw new ValueError(`${where}: deletes ${describe(r.owner, r.type)}, which an earlier diff deleted`);
  c.final = isAdd ? r : undefined;
}
