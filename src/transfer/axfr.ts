import { ByteWriter } from '../dns/bytes.js';
import { recordLength, writeQuestion, writeRecord, writeResponseHeader, type OutRecord, type Question, type ResponseHeader } from '../dns/message.js';
import { RRType } from '../dns/types.js';
import { soaRecord } from '../zone/diff.js';
import type { ZoneVersion } from '../zone/version.js';

/** Room left in every transfer message for the TSIG record (the longest key name and MAC fit). */
const TSIG_ROOM = 512;

/** The default size of one AXFR message: about 16 KiB, as BIND and Knot send. */
export const AXFR_MESSAGE_SIZE = 16 * 1024;

/**
 * The messages of an AXFR response (RFC 5936 section 2.2), unsigned: the SOA first, every
 * other record of the zone, the SOA again last. The question goes in the first message only.
 * Each message holds as many whole records as fit in `maxSize` octets (at least one).
 */
export function axfrMessages(zone: ZoneVersion, header: ResponseHeader, question: Question, maxSize = AXFR_MESSAGE_SIZE): Generator<Uint8Array> {
  return packMessages(axfrRecords(zone), header, question, maxSize);
}

/** The records of an AXFR response, in order. */
function* axfrRecords(zone: ZoneVersion): Generator<OutRecord> {
  const soa = soaRecord(zone);
  yield soa;
  for (const set of zone.rrsets()) {
    if (set.type === RRType.SOA && set.owner.equals(zone.origin)) continue;
    for (const r of set.records) yield { owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata };
  }
  yield soa;
}

/**
 * Packs records into response messages, unsigned: as many whole records in each as fit in
 * `maxSize` octets less room for a TSIG record (at least one each), the question in the first
 * message only. Yields one message (with no records) when there are none.
 */
export function* packMessages(records: Iterable<OutRecord>, header: ResponseHeader, question: Question, maxSize = AXFR_MESSAGE_SIZE): Generator<Uint8Array> {
  const limit = maxSize - TSIG_ROOM;
  const body = new ByteWriter(Math.min(maxSize, AXFR_MESSAGE_SIZE));
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
  for (const rr of records) {
    const size = recordLength(rr.owner, rr.rdata);
    if (count > 0 && 12 + (isFirst ? questionLength : 0) + body.length + size > limit) yield flush();
    writeRecord(body, rr);
    count++;
  }
  yield flush();
}
