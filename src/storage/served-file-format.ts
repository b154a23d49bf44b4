import { fstatSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { SignerError, WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import type { NodeView, RecordView, RRsetView } from '../zone/zone.js';

/**
 * A served version of a zone kept compactly on disk (issue 20 item 2b), beside the signed text
 * file it mirrors: the records in wire form, in blocks of about 64 KiB, each block a run of
 * whole names; a trailer holds what is asked of a version without reading its records (the
 * SOA, the DNSKEY RDATAs, the earliest expiration, the counts) and, for each block, where it
 * lies, its CRC-32 and its first name. In memory a version is that trailer alone (for a
 * 1M-record zone some 10,000 blocks); its records are read by offset as they are walked, and
 * each block read is checked against its CRC-32 (a damaged one is never served).
 *
 * Names come in the order the signer hands them out: the zone's names in canonical order, then
 * (NSEC3) the hashed names in theirs. Each such ascending stretch is a run (a block never spans
 * two); readers merge the runs, so a version is walked in canonical order (RFC 4034 section 6.1).
 *
 * File: `HMSSRV01`, the blocks, the trailer, the trailer's length and CRC-32 (4 octets each),
 * `HMSSEND1`. A block: names one after another, each its owner (uncompressed wire form), the
 * number of its RRsets (2 octets), each RRset its type and number of records (2 octets each),
 * each record its TTL (4), RDATA length (2) and RDATA. Trailer: the origin (2-octet length,
 * wire form), the stamp of the text file it mirrors (2-octet length, latin1), the number of
 * records, names and blocks (4 octets each), the apex SOA's TTL (4) and RDATA (2-octet length,
 * RDATA), whether there is an RRSIG (1) and the earliest expiration (4), the number of DNSKEYs
 * (2) and each RDATA (2-octet length, RDATA); then per block its offset (8), length (4),
 * CRC-32 (4), run (4) and first owner (2-octet length, wire form). Numbers big-endian.
 */
export const MAGIC = Buffer.from('HMSSRV01', 'latin1');
export const END_MAGIC = Buffer.from('HMSSEND1', 'latin1');
export const TAIL = 16;
export const BLOCK = 64 * 1024;

export interface BlockIndex {
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
  readonly run: number;
  /** The canonical key of its first name. */
  readonly firstKey: string;
}

export interface Summary {
  readonly origin: Name;
  readonly stamp: string;
  readonly recordCount: number;
  readonly nodeCount: number;
  readonly soa: RecordView;
  readonly expires: number | null;
  readonly dnskeys: readonly Uint8Array[];
  readonly blocks: readonly BlockIndex[];
}

export function encodeTrailer(s: Summary, firstNames: readonly Name[]): Uint8Array {
  const w = new ByteWriter(1024 + s.blocks.length * 64);
  w.u16(s.origin.length);
  w.name(s.origin);
  w.u16(s.stamp.length);
  w.latin1(s.stamp);
  w.u32(s.recordCount);
  w.u32(s.nodeCount);
  w.u32(s.blocks.length);
  w.u32(s.soa.ttl);
  w.u16(s.soa.rdata.length);
  w.bytes(s.soa.rdata);
  w.u8(s.expires === null ? 0 : 1);
  w.u32(s.expires ?? 0);
  w.u16(s.dnskeys.length);
  for (const d of s.dnskeys) {
    w.u16(d.length);
    w.bytes(d);
  }
  s.blocks.forEach((b, i) => {
    w.u32(Math.floor(b.offset / 0x1_0000_0000));
    w.u32(b.offset % 0x1_0000_0000);
    w.u32(b.length);
    w.u32(b.crc);
    w.u32(b.run);
    w.u16(firstNames[i]!.length);
    w.name(firstNames[i]!);
  });
  return w.finish();
}

/** A block's names, decoded: their canonical keys and views, in the block's order. */
export interface DecodedBlock {
  readonly keys: readonly string[];
  readonly nodes: readonly NodeView[];
}

/** A compact file that is not what it should be: the message starts with the file. */
export function damagedFile(path: string, what: string): SignerError {
  return new SignerError('WIRE_FORMAT', `${path}: ${what}`);
}

export function readFully(fd: number, buf: Buffer, position: number, path: string): void {
  for (let done = 0; done < buf.length;) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw damagedFile(path, `the file ends before offset ${position + buf.length}`);
    done += n;
  }
}

export function decodeBlock(buf: Buffer): DecodedBlock {
  const r = new ByteReader(buf);
  const keys: string[] = [];
  const nodes: NodeView[] = [];
  while (r.remaining > 0) {
    const name = r.name();
    const count = r.u16('RRset count');
    const rrsets: RRsetView[] = [];
    for (let s = 0; s < count; s++) {
      const type = r.u16('type');
      const n = r.u16('record count');
      const records: RecordView[] = [];
      for (let k = 0; k < n; k++) {
        const ttl = r.u32('TTL');
        records.push({ ttl, rdata: r.bytes(r.u16('RDATA length'), 'RDATA') });
      }
      rrsets.push({ owner: name, type, records });
    }
    const key = name.canonicalKey();
    if (keys.length > 0 && key <= keys[keys.length - 1]!) throw new WireFormatError('names out of order', r.pos);
    keys.push(key);
    nodes.push({ name, rrsets });
  }
  return { keys, nodes };
}

export function readSummary(fd: number, path: string): Summary {
  const size = fstatSync(fd).size;
  const damaged = (what: string): SignerError => damagedFile(path, `${what}; the file is damaged or not a served version`);
  if (size < MAGIC.length + TAIL) throw damaged('too short');
  const head = Buffer.alloc(MAGIC.length);
  readFully(fd, head, 0, path);
  if (!head.equals(MAGIC)) throw damaged('no HMSSRV01 header');
  const tail = Buffer.alloc(TAIL);
  readFully(fd, tail, size - TAIL, path);
  if (!tail.subarray(8).equals(END_MAGIC)) throw damaged('no HMSSEND1 at its end (written only in part?)');
  const length = tail.readUInt32BE(0);
  if (length > size - TAIL - MAGIC.length) throw damaged('the trailer is longer than the file');
  const trailer = Buffer.alloc(length);
  readFully(fd, trailer, size - TAIL - length, path);
  if (crc32(trailer) !== tail.readUInt32BE(4)) throw damaged('the trailer does not match its checksum');
  try {
    const r = new ByteReader(trailer);
    const origin = Name.decode(r.bytes(r.u16('origin length')), 0, false).name;
    const stamp = Buffer.from(r.bytes(r.u16('stamp length'))).toString('latin1');
    const recordCount = r.u32();
    const nodeCount = r.u32();
    const blockCount = r.u32();
    const soa = { ttl: r.u32(), rdata: Uint8Array.from(r.bytes(r.u16())) };
    const hasExpiry = r.u8() === 1;
    const expiry = r.u32();
    const dnskeys: Uint8Array[] = [];
    for (let n = r.u16(); n > 0; n--) dnskeys.push(Uint8Array.from(r.bytes(r.u16())));
    const blocks: BlockIndex[] = [];
    let end = MAGIC.length;
    for (let i = 0; i < blockCount; i++) {
      const offset = r.u32() * 0x1_0000_0000 + r.u32();
      const block = { offset, length: r.u32(), crc: r.u32(), run: r.u32(), firstKey: Name.decode(r.bytes(r.u16()), 0, false).name.canonicalKey() };
      if (block.offset !== end) throw damaged(`block ${i} is not where the one before ends`);
      end += block.length;
      blocks.push(block);
    }
    if (end !== size - TAIL - length) throw damaged('the blocks do not end where the trailer starts');
    if (r.remaining !== 0) throw damaged('octets after the trailer');
    return { origin, stamp, recordCount, nodeCount, soa, expires: hasExpiry ? expiry : null, dnskeys, blocks };
  } catch (e) {
    if (e instanceof WireFormatError) throw damaged(`its trailer: ${e.message}`);
    throw e;
  }
}
