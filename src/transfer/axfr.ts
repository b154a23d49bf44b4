import { ByteWriter } from '../dns/bytes.js';
import { recordLength, writeQuestion, writeRecord, writeResponseHeader, type OutRecord, type Question, type ResponseHeader } from '../dns/message.js';
import { RRType } from '../dns/types.js';
import type { Zone } from '../zone/zone.js';

/** Room left in every AXFR message for the TSIG record (the longest key name and MAC fit). */
const TSIG_ROOM = 512;

/** The default size of one AXFR message: about 16 KiB, as BIND and Knot send. */
export const AXFR_MESSAGE_SIZE = 16 * 1024;

/**
 * The messages of an AXFR response (RFC 5936 section 2.2), unsigned: the SOA first, every
 * other record of the zone, the SOA again last. The question goes in the first message only.
 * Each message holds as many whole records as fit in `maxSize` octets (at least one).
 */
export function* axfrMessages(zone: Zone, header: ResponseHeader, question: Question, maxSize = AXFR_MESSAGE_SIZE): Generator<Uint8Array> {
  const soa = zone.soa;
  if (soa === undefined || soa.records.length === 0) throw new Error(`zone ${zone.origin.toString()} has no SOA`);
  const soaRecord: OutRecord = { owner: zone.origin, type: RRType.SOA, ttl: soa.records[0]!.ttl, rdata: soa.records[0]!.rdata };
  const limit = maxSize - TSIG_ROOM;
  const body = new ByteWriter(maxSize);
  let count = 0;
  let isFirst = true;
  const flush = (): Uint8Array => {
    const w = new ByteWriter(12 + body.length + 300);
    writeResponseHeader(w, header, isFirst ? 1 : 0, count);
    if (isFirst) writeQuestion(w, question);
    w.bytes(body.view());
    body.reset();
    count = 0;
    isFirst = false;
    return w.finish();
  };
  const questionLength = question.name.length + 4;
  function* add(rr: OutRecord): Generator<Uint8Array> {
    const size = recordLength(rr.owner, rr.rdata);
    if (count > 0 && 12 + (isFirst ? questionLength : 0) + body.length + size > limit) yield flush();
    writeRecord(body, rr);
    count++;
  }
  yield* add(soaRecord);
  for (const set of zone.rrsets()) {
    if (set.type === RRType.SOA && set.owner.equals(zone.origin)) continue;
    for (const r of set.records) yield* add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata });
  }
  yield* add(soaRecord);
  yield flush();
}
