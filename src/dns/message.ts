import { WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { Name } from './name.js';

/** DNS message opcodes hms deals with (RFC 1035, RFC 1996). */
export const Opcode = { QUERY: 0, NOTIFY: 4 } as const;

/** Response codes (RFC 1035, RFC 2136, RFC 8945). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9 } as const;

/** The fixed 12-octet header of a DNS message. */
export interface MessageHeader {
  readonly id: number;
  readonly isResponse: boolean;
  readonly opcode: number;
  readonly isAuthoritative: boolean;
  readonly isTruncated: boolean;
  readonly isRecursionDesired: boolean;
  readonly rcode: number;
  readonly qdcount: number;
  readonly ancount: number;
  readonly nscount: number;
  readonly arcount: number;
}

export interface Question {
  readonly name: Name;
  readonly type: number;
  readonly class: number;
}

/** A resource record read from a message: its place in the message and its fields. */
export interface MessageRecord {
  /** Offset of the record's first octet (its owner name). */
  readonly start: number;
  readonly end: number;
  readonly owner: Name;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  /** Offset of the RDATA. */
  readonly rdataStart: number;
  readonly rdata: Uint8Array;
}

/** A message read far enough to answer it: header, question and every record's place. */
export interface DecodedMessage {
  readonly header: MessageHeader;
  readonly questions: readonly Question[];
  /** Answer, authority and additional records, in order. */
  readonly records: readonly MessageRecord[];
}

export const HEADER_LENGTH = 12;

export function decodeHeader(msg: Uint8Array): MessageHeader {
  const r = new ByteReader(msg);
  const id = r.u16('message ID');
  const flags = r.u16('message flags');
  return {
    id,
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >>> 11) & 0xf,
    isAuthoritative: (flags & 0x0400) !== 0,
    isTruncated: (flags & 0x0200) !== 0,
    isRecursionDesired: (flags & 0x0100) !== 0,
    rcode: flags & 0xf,
    qdcount: r.u16('QDCOUNT'),
    ancount: r.u16('ANCOUNT'),
    nscount: r.u16('NSCOUNT'),
    arcount: r.u16('ARCOUNT'),
  };
}

/** Reads a whole message; throws WireFormatError on anything malformed or left over. */
export function decodeMessage(msg: Uint8Array): DecodedMessage {
  const header = decodeHeader(msg);
  let pos = HEADER_LENGTH;
  const questions: Question[] = [];
  for (let i = 0; i < header.qdcount; i++) {
    const { name, end } = Name.decode(msg, pos, true);
    const r = new ByteReader(msg, end);
    questions.push({ name, type: r.u16('QTYPE'), class: r.u16('QCLASS') });
    pos = r.pos;
  }
  const records: MessageRecord[] = [];
  const total = header.ancount + header.nscount + header.arcount;
  for (let i = 0; i < total; i++) {
    const start = pos;
    const { name, end } = Name.decode(msg, pos, true);
    const r = new ByteReader(msg, end);
    const type = r.u16('TYPE');
    const cls = r.u16('CLASS');
    const ttl = r.u32('TTL');
    const length = r.u16('RDLENGTH');
    const rdataStart = r.pos;
    const rdata = r.bytes(length, 'RDATA');
    pos = r.pos;
    records.push({ start, end: pos, owner: name, type, class: cls, ttl, rdataStart, rdata });
  }
  if (pos !== msg.length) throw new WireFormatError(`${msg.length - pos} octet(s) after the last record`, pos);
  return { header, questions, records };
}

/** What a response header says; the rest is copied from the request or left zero. */
export interface ResponseHeader {
  readonly id: number;
  readonly opcode: number;
  readonly rcode: number;
  readonly isAuthoritative: boolean;
  readonly isRecursionDesired: boolean;
}

/** A record to write: names are written uncompressed. */
export interface OutRecord {
  readonly owner: Name;
  readonly type: number;
  readonly class?: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/**
 * Writes a response: the header (QR set, RA never set: hms answers nothing recursively), the
 * question if any, and the answer records. The counts are those of what is written.
 */
export function encodeResponse(header: ResponseHeader, question: Question | undefined, answers: readonly OutRecord[]): Uint8Array {
  const w = new ByteWriter(512);
  writeResponseHeader(w, header, question === undefined ? 0 : 1, answers.length);
  if (question !== undefined) writeQuestion(w, question);
  for (const rr of answers) writeRecord(w, rr);
  return w.finish();
}

export function writeResponseHeader(w: ByteWriter, h: ResponseHeader, qdcount: number, ancount: number): void {
  w.u16(h.id);
  w.u16(0x8000 | ((h.opcode & 0xf) << 11) | (h.isAuthoritative ? 0x0400 : 0) | (h.isRecursionDesired ? 0x0100 : 0) | (h.rcode & 0xf));
  w.u16(qdcount);
  w.u16(ancount);
  w.u16(0);
  w.u16(0);
}

export function writeQuestion(w: ByteWriter, q: Question): void {
  w.name(q.name);
  w.u16(q.type);
  w.u16(q.class);
}

export function writeRecord(w: ByteWriter, rr: OutRecord): void {
  w.name(rr.owner);
  w.u16(rr.type);
  w.u16(rr.class ?? 1);
  w.u32(rr.ttl);
  w.u16(rr.rdata.length);
  w.bytes(rr.rdata);
}

/** Octets a record takes written uncompressed. */
export function recordLength(owner: Name, rdata: Uint8Array): number {
  return owner.length + 10 + rdata.length;
}

/**
 * Where the names are in the RDATA of the types whose names a sender may compress (RFC 3597
 * section 4: those of RFC 1035, and RP, AFSDB, RT, PX, NAPTR and SRV that some senders
 * compress too): `n` a name, `s` a character-string, a number that many fixed octets.
 */
const COMPRESSIBLE: ReadonlyMap<number, readonly ('n' | 's' | number)[]> = new Map<number, readonly ('n' | 's' | number)[]>([
  [2, ['n']],
  [3, ['n']],
  [4, ['n']],
  [5, ['n']],
  [7, ['n']],
  [8, ['n']],
  [9, ['n']],
  [12, ['n']], // NS MD MF CNAME MB MG MR PTR
  [6, ['n', 'n', 20]],
  [14, ['n', 'n']],
  [17, ['n', 'n']], // SOA MINFO RP
  [15, [2, 'n']],
  [18, [2, 'n']],
  [21, [2, 'n']],
  [26, [2, 'n', 'n']], // MX AFSDB RT PX
  [33, [6, 'n']],
  [35, [4, 's', 's', 's', 'n']], // SRV NAPTR
]);

/**
 * A record's RDATA with any compressed names in it written out in full, as a zone holds it.
 * RDATA of other types is returned as it is. Throws WireFormatError when the RDATA does not
 * hold what its type says.
 */
export function uncompressedRdata(message: Uint8Array, record: MessageRecord): Uint8Array {
  const layout = COMPRESSIBLE.get(record.type);
  if (layout === undefined) return record.rdata;
  const end = record.rdataStart + record.rdata.length;
  const w = new ByteWriter(record.rdata.length + 64);
  let pos = record.rdataStart;
  for (const field of layout) {
    if (field === 'n') {
      const { name, end: after } = Name.decode(message.subarray(0, end), pos, true);
      w.name(name);
      pos = after;
      continue;
    }
    const length = field === 's' ? 1 + (pos < end ? message[pos]! : 0) : field;
    if (pos + length > end) throw new WireFormatError('RDATA shorter than its type needs', pos);
    w.bytes(message.subarray(pos, pos + length));
    pos += length;
  }
  if (pos !== end) throw new WireFormatError(`${end - pos} octet(s) after the RDATA of type ${record.type}`, pos);
  return w.finish();
}
