import { compareBytes, toHex } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { canonicalRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import type { DiffRecord } from './diff.js';
import type { NodeView, RRsetView, Zone } from './zone.js';

/**
 * A version of a zone as its readers see it: the transfer server (SOA, AXFR), the journal's
 * diff of two versions, a re-sign keeping signatures, the monitor. A `Zone` is one (in memory);
 * the service's served versions are compact files read as they are walked (storage/served-file.ts).
 */
export interface ZoneVersion {
  readonly origin: Name;
  /** The apex SOA RRset. */
  readonly soa: RRsetView | undefined;
  readonly recordCount: number;
  /** The RRsets of `name`, by type ascending; undefined when the version has none. */
  get(name: Name): NodeView | undefined;
  rrset(name: Name, type: number): RRsetView | undefined;
  /** Every RRset, names in canonical order (RFC 4034 section 6.1), each name's by type ascending. */
  rrsets(): Iterable<RRsetView>;
  /** Every name in canonical order with its canonical key (Name.canonicalKey), when the version has the keys at hand. */
  keyedNodes?(): Iterable<{ readonly key: string; readonly node: NodeView }>;
}

/** A version served: what the publisher keeps of it besides its records. */
export interface ServedVersion extends ZoneVersion {
  readonly serial: number;
  /** The earliest RRSIG expiration (null: none). */
  readonly expires: number | null;
  /** The apex DNSKEY RDATAs. */
  readonly dnskeys: readonly Uint8Array[];
  /**
   * Keeps the version readable until the function returned is called (a version replaced by a
   * newer one is still read by a transfer or a diff under way). Every call is matched by one release.
   */
  retain(): () => void;
  /** Lets go of the hold its opener has (the publisher, once a newer version is served); see `retain`. */
  release(): void;
}

/** A Zone held in memory as a served version (tests, and small zones). */
export function servedInMemory(zone: Zone): ServedVersion {
  const soa = zone.soa?.records[0];
  return Object.assign(Object.create(zone) as Zone, {
    serial: soa === undefined ? 0 : decodeSoa(soa.rdata).serial,
    expires: earliestExpiration(zone.rrsets()),
    dnskeys: zone.rrset(zone.origin, RRType.DNSKEY)?.records.map((r) => r.rdata) ?? [],
    retain: () => () => undefined,
    release: () => undefined,
  });
}

/** The expiration of an RRSIG RDATA (RFC 4034 section 3.1.5: octets 8 to 11). */
export function rrsigExpiration(d: Uint8Array): number {
  return ((d[8]! << 24) >>> 0) + (d[9]! << 16) + (d[10]! << 8) + d[11]!;
}

/** The earliest RRSIG expiration among RRsets (null: no RRSIG). */
export function earliestExpiration(rrsets: Iterable<RRsetView>): number | null {
  let earliest: number | null = null;
  for (const set of rrsets) {
    if (set.type !== RRType.RRSIG) continue;
    for (const r of set.records) {
      const expiration = rrsigExpiration(r.rdata);
      if (earliest === null || expiration < earliest) earliest = expiration;
    }
  }
  return earliest;
}

/** How often (in RRsets walked) a walk of two versions yields a `null`, so that its caller may let other work run. */
const TICK_EVERY = 4096;

/**
 * The records of `old` that `next` lacks (`deleted`) or of `next` that `old` lacks (`added`),
 * a record whose TTL changed in both; the apex SOA in neither (a diff carries it apart). A
 * merge walk of both versions in canonical order: nothing is held but the RRsets at hand (the
 * journal walks the two once for each side, writing as it goes). Every few thousand
 * RRsets walked it yields `null` (a long walk of two large versions lets its caller pause).
 */
export function* versionChanges(old: ZoneVersion, next: ZoneVersion, side: 'deleted' | 'added'): Generator<DiffRecord | null> {
  for (const pair of pairRRsets(old, next)) {
    if (pair === null) yield null;
    else if (side === 'deleted') yield* missingFrom(pair[0], pair[1]);
    else yield* missingFrom(pair[1], pair[0]);
  }
}

/** Every record of versionChanges, the `null`s left out (tests, small versions). */
export function changesOf(old: ZoneVersion, next: ZoneVersion, side: 'deleted' | 'added'): DiffRecord[] {
  return [...versionChanges(old, next, side)].filter((r): r is DiffRecord => r !== null);
}

/** The records of `a` that `b` lacks: the same TTL and canonical RDATA (RFC 4034 section 6.2) is the same record. */
function* missingFrom(a: RRsetView | undefined, b: RRsetView | undefined): Generator<DiffRecord> {
  if (a === undefined) return;
  const keyOf = (ttl: number, rdata: Uint8Array): string => `${ttl} ${toHex(canonicalRdata(a.type, rdata))}`;
  // a large RRset is looked up by key, a small one by a scan
  const inB = b !== undefined && b.records.length > 16 ? new Set(b.records.map((s) => keyOf(s.ttl, s.rdata))) : undefined;
  for (const r of a.records) {
    if (b !== undefined) {
      if (inB !== undefined ? inB.has(keyOf(r.ttl, r.rdata)) : b.records.some((s) => s.ttl === r.ttl && sameRdata(a.type, s.rdata, r.rdata))) continue;
    }
    yield { owner: a.owner, type: a.type, ttl: r.ttl, rdata: r.rdata };
  }
}

/** The same RDATA in canonical form (RFC 4034 section 6.2: names in it lowercased): octets that differ other than in ASCII case never are. */
function sameRdata(type: number, x: Uint8Array, y: Uint8Array): boolean {
  if (x.length !== y.length) return false;
  if (compareBytes(x, y) === 0) return true;
  for (let i = 0; i < x.length; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (a !== b && (a | 0x20) !== (b | 0x20)) return false;
  }
  return compareBytes(canonicalRdata(type, x), canonicalRdata(type, y)) === 0;
}

/**
 * The RRsets of two versions side by side in canonical order (owner, then type): a pair
 * whose sets are the same is skipped; an RRset in one version only is paired with undefined.
 * The apex SOA is left out. A `null` every TICK_EVERY steps.
 */
function* pairRRsets(old: ZoneVersion, next: ZoneVersion): Generator<[RRsetView | undefined, RRsetView | undefined] | null> {
  const a = keyed(old);
  const b = keyed(next);
  let x = a.next();
  let y = b.next();
  let steps = 0;
  for (;;) {
    if (++steps % TICK_EVERY === 0) yield null;
    const p = x.done === true ? undefined : x.value;
    const q = y.done === true ? undefined : y.value;
    if (p === undefined && q === undefined) return;
    const order = p === undefined ? 1 : q === undefined ? -1 : p.key < q.key ? -1 : p.key > q.key ? 1 : p.set.type - q.set.type;
    if (order < 0) {
      yield [p!.set, undefined];
      x = a.next();
    } else if (order > 0) {
      yield [undefined, q!.set];
      y = b.next();
    } else {
      if (!sameRecords(p!.set, q!.set)) yield [p!.set, q!.set];
      x = a.next();
      y = b.next();
    }
  }
}

/** A version's RRsets with their owner's canonical key (computed once per name, or the version's own), the apex SOA left out. */
function* keyed(version: ZoneVersion): Generator<{ key: string; set: RRsetView }> {
  if (version.keyedNodes !== undefined) {
    for (const { key, node } of version.keyedNodes())
      for (const set of node.rrsets) if (set.type !== RRType.SOA || !set.owner.equals(version.origin)) yield { key, set };
    return;
  }
  let owner: Name | undefined;
  let key = '';
  for (const set of version.rrsets()) {
    if (set.owner !== owner) {
      owner = set.owner;
      key = owner.canonicalKey();
    }
    if (set.type === RRType.SOA && set.owner.equals(version.origin)) continue;
    yield { key, set };
  }
}

function sameRecords(a: RRsetView, b: RRsetView): boolean {
  if (a.records.length !== b.records.length) return false;
  for (let i = 0; i < a.records.length; i++) {
    const r = a.records[i]!;
    const s = b.records[i]!;
    if (r.ttl !== s.ttl || compareBytes(r.rdata, s.rdata) !== 0) return false;
  }
  return true;
}
