import { recordPrefix } from '../dns/zonefile/printer.js';
import { formatRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import type { RRsetView, Zone } from './zone.js';

/**
 * The zone as master-file lines in canonical order (RFC 4034 section 6): the apex SOA first,
 * then every name in canonical order, RRsets by type, records in canonical RDATA order.
 */
export function* printZone(zone: Zone): Generator<string> {
  const soa = zone.soa;
  if (soa !== undefined) yield* printRRset(soa);
  for (const node of zone.nodes) {
    for (const set of node.rrsets) {
      if (set === soa) continue;
      yield* printRRset(set);
    }
  }
}

/** One name's RRsets as master-file lines, by type (the SOA first, for an apex). */
export function* printNode(rrsets: readonly RRsetView[]): Generator<string> {
  const soa = rrsets.find((set) => set.type === RRType.SOA);
  if (soa !== undefined) yield* printRRset(soa);
  for (const set of rrsets) if (set !== soa) yield* printRRset(set);
}

function* printRRset(set: RRsetView): Generator<string> {
  const prefix = recordPrefix(set.owner, set.type);
  for (const rr of set.records) yield `${prefix(rr.ttl)}${formatRdata(set.type, rr.rdata)}`;
}


/** One record as a master-file line (a record of a diff, say). */
export function printRecord(record: { readonly owner: RRsetView['owner']; readonly type: number; readonly ttl: number; readonly rdata: Uint8Array }): string {
  return `${recordPrefix(record.owner, record.type)(record.ttl)}${formatRdata(record.type, record.rdata)}`;
}
