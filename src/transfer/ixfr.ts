import type { DecodedMessage, OutRecord } from '../dns/message.js';
import type { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { soaSerial } from '../zone/diff.js';

/** One version's diff as IXFR sends it; `deleted` and `added` may be read from disk as they are iterated, once, in that order. */
export interface IxfrDiff {
  readonly from: OutRecord;
  readonly to: OutRecord;
  readonly deleted: Iterable<OutRecord>;
  readonly added: Iterable<OutRecord>;
}

/** Where a responder finds the diffs of a zone's versions: a Journal, or anything like it. */
export interface IxfrSource {
  /** The diffs from `serial` to `current`, oldest first, iterated once; undefined when they are not all known. */
  diffsFrom(serial: number, current: number): Iterable<IxfrDiff> | undefined;
}

/**
 * The records of an incremental IXFR response (RFC 1995 section 4), per version: the newest
 * SOA, then for each diff its old SOA, the records deleted, its new SOA, the records added,
 * and the newest SOA again to close.
 */
export function* ixfrRecords(current: OutRecord, diffs: Iterable<IxfrDiff>): Generator<OutRecord> {
  yield current;
  for (const d of diffs) {
    yield d.from;
    yield* d.deleted;
    yield d.to;
    yield* d.added;
  }
  yield current;
}

/**
 * The serial a secondary has, from the SOA in the authority section of its IXFR request
 * (RFC 1995 section 3); undefined when there is no SOA for the zone there.
 */
export function requestedSerial(request: DecodedMessage, origin: Name): number | undefined {
  const { ancount, nscount } = request.header;
  const authority = request.records.slice(ancount, ancount + nscount);
  const soa = authority.find((r) => r.type === RRType.SOA && r.owner.equals(origin));
  if (soa === undefined || soa.rdata.length < 22) return undefined;
  return soaSerial(soa.rdata);
}

/**
 * The records of `records` when they may fit in `octets` (each takes at least its RDATA, a
 * compressed owner and 10 octets of type, class, TTL and length); undefined as soon as they
 * cannot, without reading the rest (a journal's diff is read from disk as it is iterated).
 */
export function recordsWithin(records: Iterable<OutRecord>, octets: number): OutRecord[] | undefined {
  const out: OutRecord[] = [];
  let least = 0;
  for (const r of records) {
    least += 12 + r.rdata.length;
    if (least > octets) return undefined;
    out.push(r);
  }
  return out;
}
