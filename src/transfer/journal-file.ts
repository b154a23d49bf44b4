import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import type { DiffRecord, ZoneDiff } from '../zone/diff.js';
import { temporaryName } from '../common/temporary-names.js';

/**
 * The journal's file: `HMSJRNL1`, the zone's name, the number of diffs, each diff (old SOA,
 * new SOA, the deleted records, the added ones; records in uncompressed wire form), then the
 * SHA-256 of everything before it. A file cut short or changed anywhere fails the digest.
 */
const MAGIC = Buffer.from('HMSJRNL1', 'latin1');
const DIGEST_LENGTH = 32;

export interface JournalContents {
  readonly origin: Name;
  readonly diffs: readonly ZoneDiff[];
}

function writeDiffRecord(w: ByteWriter, r: DiffRecord): void {
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

function writeRecords(w: ByteWriter, records: readonly DiffRecord[]): void {
  w.u32(records.length);
  for (const r of records) writeDiffRecord(w, r);
}

function readRecords(r: ByteReader): DiffRecord[] {
  const count = r.u32('record count');
  const out: DiffRecord[] = [];
  for (let i = 0; i < count; i++) out.push(readDiffRecord(r));
  return out;
}

/** The file's bytes for a journal. */
export function encodeJournal(contents: JournalContents): Uint8Array {
  const w = new ByteWriter(4096);
  w.bytes(MAGIC);
  w.name(contents.origin);
  w.u32(contents.diffs.length);
  for (const d of contents.diffs) {
    writeDiffRecord(w, d.from);
    writeDiffRecord(w, d.to);
    writeRecords(w, d.deleted);
    writeRecords(w, d.added);
  }
  w.bytes(createHash('sha256').update(w.view()).digest());
  return w.finish();
}

/** Reads a journal file's bytes; throws WireFormatError when they are not one, or damaged. */
export function decodeJournal(bytes: Uint8Array): JournalContents {
  if (bytes.length < MAGIC.length + DIGEST_LENGTH || Buffer.compare(bytes.subarray(0, MAGIC.length), MAGIC) !== 0) {
    throw new WireFormatError('not an hms journal (no HMSJRNL1 header)', 0);
  }
  const body = bytes.subarray(0, bytes.length - DIGEST_LENGTH);
  if (Buffer.compare(createHash('sha256').update(body).digest(), bytes.subarray(body.length)) !== 0) {
    throw new WireFormatError('the SHA-256 digest does not match: the file is damaged or cut short', body.length);
  }
  const r = new ByteReader(body, MAGIC.length);
  const origin = r.name();
  const count = r.u32('diff count');
  const diffs: ZoneDiff[] = [];
  for (let i = 0; i < count; i++) {
    const from = readDiffRecord(r);
    const to = readDiffRecord(r);
    diffs.push({ from, to, deleted: readRecords(r), added: readRecords(r) });
  }
  if (r.remaining !== 0) throw new WireFormatError(`${r.remaining} octet(s) after the last diff`, r.pos);
  return { origin, diffs };
}

/**
 * Writes a file atomically: a temporary file beside it, synced, renamed over the old one, the
 * folder synced; a reader (or a restart after a crash) sees the old file or the new, never half.
 */
export function writeFileAtomically(path: string, bytes: Uint8Array): void {
  const tmp = temporaryName(path, process.pid);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
