import { closeSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import type { DiffRecord, ZoneDiff } from '../zone/diff.js';

/**
 * The journal's file (docs/configuration.md, "The IXFR journal on disk"): a file header, then
 * one record per version's diff, appended, oldest first.
 *
 * File header: `HMSJRNL2`, the zone's name (2-octet length, then the name in uncompressed
 * wire form), the CRC-32 of what comes before it.
 *
 * Record: a 24-octet header then the body. Header: `DIFF`, the serial it starts from, the
 * serial it leads to, the body's length, the body's CRC-32, the CRC-32 of the 20 octets
 * before it. Body: the old SOA, the new SOA, the number of records deleted and the records,
 * the number added and the records; each record its owner (uncompressed wire form), type, TTL,
 * RDATA length and RDATA. All numbers big-endian.
 *
 * A record's body is written before its header: a run killed half-way leaves a header of
 * zeros or a body cut short, which the next open finds (header checksum, length) and cuts off.
 */
export const FILE_MAGIC = Buffer.from('HMSJRNL2', 'latin1');
/** The whole-file format of hms before the journal was appended (one digest over everything). */
export const OLD_FILE_MAGIC = Buffer.from('HMSJRNL1', 'latin1');
const RECORD_MAGIC = Buffer.from('DIFF', 'latin1');
export const RECORD_HEADER_LENGTH = 24;
/** The largest body a record holds (its length is a 32-bit field). */
export const MAX_BODY_LENGTH = 0xffff_ffff;
/** Bodies are written and read in pieces of about this size, so that no step holds the event loop long. */
export const CHUNK = 1 << 20;

/** Where one version's diff lies in the file: what the journal keeps in memory, never the diff. */
export interface RecordIndex {
  readonly from: number;
  readonly to: number;
  /** The offset of the record's header. */
  readonly offset: number;
  readonly length: number;
  readonly checksum: number;
}

/** The file header for a zone. */
export function encodeFileHeader(origin: Name): Uint8Array {
  const w = new ByteWriter(300);
  w.bytes(FILE_MAGIC);
  const name = new ByteWriter(256);
  name.name(origin);
  const wire = name.finish();
  w.u16(wire.length);
  w.bytes(wire);
  const body = w.finish();
  const out = Buffer.alloc(body.length + 4);
  out.set(body);
  out.writeUInt32BE(crc32(body), body.length);
  return out;
}

/** The length of a file header from its first octets (at least 10); throws when they are not one. */
export function fileHeaderLength(start: Uint8Array): number {
  if (start.length < FILE_MAGIC.length + 2) throw new WireFormatError('not an hms journal (too short)', 0);
  const magic = Buffer.from(start.subarray(0, FILE_MAGIC.length));
  if (!magic.equals(FILE_MAGIC)) throw new WireFormatError('not an hms journal (no HMSJRNL2 header)', 0);
  return FILE_MAGIC.length + 2 + ((start[8]! << 8) | start[9]!) + 4;
}

/** The zone a file header names; throws when it is damaged. */
export function decodeFileHeader(header: Uint8Array): Name {
  const body = header.subarray(0, header.length - 4);
  if (crc32(body) !== Buffer.from(header).readUInt32BE(body.length)) throw new WireFormatError("the file header's checksum does not match", 0);
  return new ByteReader(body, FILE_MAGIC.length + 2).name();
}

/** A record's header. */
export function encodeRecordHeader(r: Omit<RecordIndex, 'offset'>): Uint8Array {
  const out = Buffer.alloc(RECORD_HEADER_LENGTH);
  out.set(RECORD_MAGIC, 0);
  out.writeUInt32BE(r.from, 4);
  out.writeUInt32BE(r.to, 8);
  out.writeUInt32BE(r.length, 12);
  out.writeUInt32BE(r.checksum, 16);
  out.writeUInt32BE(crc32(out.subarray(0, 20)), 20);
  return out;
}

/** A record's header read at `offset`; undefined when it is not one (zeros, a torn write, damage). */
export function decodeRecordHeader(bytes: Uint8Array, offset: number): RecordIndex | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length < RECORD_HEADER_LENGTH || !b.subarray(0, 4).equals(RECORD_MAGIC)) return undefined;
  if (crc32(b.subarray(0, 20)) !== b.readUInt32BE(20)) return undefined;
  return { from: b.readUInt32BE(4), to: b.readUInt32BE(8), length: b.readUInt32BE(12), checksum: b.readUInt32BE(16), offset };
}

/** One record of a body: owner (uncompressed), type, TTL, RDATA length, RDATA. */
export function writeDiffRecord(w: ByteWriter, r: DiffRecord): void {
  w.name(r.owner);
  w.u16(r.type);
  w.u32(r.ttl);
  w.u16(r.rdata.length);
  w.bytes(r.rdata);
}

function readDiffRecord(r: ByteReader): DiffRecord {
  const owner = r.name();
  const type = r.u16('type');
  const ttl = r.u32('TTL');
  const rdata = r.bytes(r.u16('RDATA length'), 'RDATA');
  return { owner, type, ttl, rdata: Uint8Array.from(rdata) };
}

/** A diff's body, in pieces of about `chunk` octets (the caller writes each and may wait between them). */
export function* encodeBody(diff: ZoneDiff, chunk = CHUNK): Generator<Uint8Array> {
  const w = new ByteWriter(Math.min(chunk, 1 << 16) + 66_000);
  writeDiffRecord(w, diff.from);
  writeDiffRecord(w, diff.to);
  for (const records of [diff.deleted, diff.added]) {
    w.u32(records.length);
    for (const r of records) {
      writeDiffRecord(w, r);
      if (w.length >= chunk) {
        yield w.finish();
        w.reset();
      }
    }
  }
  if (w.length > 0) yield w.finish();
}

/** The longest record in a body: a name of 255 octets, type, TTL, RDATA length and 65,535 octets of RDATA. */
const LONGEST_RECORD = 255 + 10 + 0xffff;

/**
 * Reads a body from an open file, in pieces, one record at a time. `read` fills a buffer from
 * a position of the file and returns how many octets it read.
 */
class BodyReader {
  private buf = Buffer.alloc(0);
  private at = 0;
  /** The file position of `buf`'s end. */
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly fd: number,
    start: number,
    length: number,
    private readonly file: string,
  ) {
    this.pos = start;
    this.end = start + length;
  }

  /** Makes sure the next record is in the buffer (or the body's end is). */
  private fill(): void {
    if (this.buf.length - this.at >= LONGEST_RECORD || this.pos >= this.end) return;
    const want = Math.min(Math.max(CHUNK, LONGEST_RECORD), this.end - this.pos);
    const next = Buffer.allocUnsafe(this.buf.length - this.at + want);
    this.buf.copy(next, 0, this.at);
    let filled = this.buf.length - this.at;
    while (filled < next.length) {
      const n = readSync(this.fd, next, filled, next.length - filled, this.pos);
      if (n === 0) throw new WireFormatError(`journal ${this.file}: the file ends inside a record`, this.pos);
      filled += n;
      this.pos += n;
    }
    this.buf = next;
    this.at = 0;
  }

  record(): DiffRecord {
    this.fill();
    const r = new ByteReader(this.buf, this.at);
    const out = readDiffRecord(r);
    this.at = r.pos;
    return out;
  }

  u32(what: string): number {
    this.fill();
    const r = new ByteReader(this.buf, this.at);
    const v = r.u32(what);
    this.at = r.pos;
    return v;
  }

  get done(): boolean {
    return this.at === this.buf.length && this.pos === this.end;
  }
}

/** One diff as an IXFR sends it, read from the file as it is sent: `deleted`, then `added`, each once. */
export interface StreamedDiff {
  readonly from: DiffRecord;
  readonly to: DiffRecord;
  readonly deleted: Iterable<DiffRecord>;
  readonly added: Iterable<DiffRecord>;
}

/**
 * The diffs of `records` (consecutive, oldest first) read from `file` while they are iterated;
 * the file is opened at the first step and closed at the end (or when the iteration stops).
 */
export function* readDiffs(file: string, records: readonly RecordIndex[]): Generator<StreamedDiff> {
  const fd = openSync(file, 'r');
  try {
    for (const index of records) {
      const body = new BodyReader(fd, index.offset + RECORD_HEADER_LENGTH, index.length, file);
      const from = body.record();
      const to = body.record();
      const section = function* (): Generator<DiffRecord> {
        const count = body.u32('record count');
        for (let i = 0; i < count; i++) yield body.record();
      };
      const deleted = section();
      const added = section();
      yield { from, to, deleted, added };
      // a consumer that skipped a section still leaves the reader at the body's end
      while (!deleted.next().done) {
        /* drained */
      }
      while (!added.next().done) {
        /* drained */
      }
      if (!body.done) throw new WireFormatError(`journal ${file}: the diff to serial ${index.to} has octets after its last record`, index.offset);
    }
  } finally {
    closeSync(fd);
  }
}

/** The CRC-32 of `length` octets of an open file from `start`, read in pieces. */
export function checksumOf(fd: number, start: number, length: number): number | undefined {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(length, 1)));
  let sum = 0;
  for (let done = 0; done < length;) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), start + done);
    if (n === 0) return undefined;
    sum = crc32(buf.subarray(0, n), sum);
    done += n;
  }
  return sum;
}
