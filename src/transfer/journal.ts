import { closeSync, fstatSync, openSync, readSync, truncateSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { SignerError, ValueError, WireFormatError } from '../common/errors.js';
import { ByteWriter } from '../dns/bytes.js';
import { temporaryName } from '../common/temporary-names.js';
import type { Name } from '../dns/name.js';
import { serialGreater } from '../dns/serial.js';
import { syncFolderOf } from '../files/sync-folder.js';
import { soaRecord, soaSerial, type DiffRecord, type ZoneDiff } from '../zone/diff.js';
import { versionChanges, type ZoneVersion } from '../zone/version.js';
import {
  checksumOf,
  CHUNK,
  decodeFileHeader,
  decodeRecordHeader,
  encodeBody,
  encodeFileHeader,
  encodeRecordHeader,
  fileHeaderLength,
  MAX_BODY_LENGTH,
  OLD_FILE_MAGIC,
  readDiffs,
  RECORD_HEADER_LENGTH,
  type RecordIndex,
  type StreamedDiff,
  writeDiffRecord,
} from './journal-file.js';

/** How long a diff is worked out or written before other work gets a turn (ms). */
const TURN_MS = 20;

/** How many versions' diffs a journal keeps unless told otherwise. */
export const DEFAULT_JOURNAL_VERSIONS = 30;
/** How many octets of diffs a journal keeps unless told otherwise: 256 MiB. */
export const DEFAULT_JOURNAL_BYTES = 256 * 1024 * 1024;

/** What a journal reports: Knot-style `msg` ("journal, <event>") and the facts. */
export interface JournalEvent {
  readonly msg: string;
  /** `info` for the journal's ordinary life (opened), `warn` for what lost diffs or was refused. */
  readonly level: 'info' | 'warn';
  readonly zone: string;
  readonly file: string;
  readonly reason?: string;
  readonly versions?: number;
  readonly serial?: number;
  /** Where a torn record starts, and the octets cut off there. */
  readonly offset?: number;
  readonly bytes?: number;
}

export interface JournalOptions {
  /** The journal's file, in the state directory; each version's diff is appended to it. */
  readonly file: string;
  readonly origin: Name;
  /** The number of diffs (versions back from the newest) kept; default 30. */
  readonly maxVersions?: number;
  /** The octets of diffs kept (record headers and bodies); default 256 MiB. */
  readonly maxBytes?: number;
  readonly log?: (event: JournalEvent) => void;
}

/**
 * The diffs between successive signed versions of one zone, newest last, for IXFR (RFC 1995),
 * on disk (journal-file.ts has the format). Only an index is held in memory (serials, offset,
 * length, checksum of each diff); a diff is appended when a version is published (in pieces,
 * awaited, synced before the promise resolves) and read by offset while an IXFR is sent. At
 * most `maxVersions` diffs and `maxBytes` octets of them are kept, the oldest dropped first;
 * the dropped ones at the file's start are copied away once they outweigh the kept ones.
 *
 * Opening reads the record headers only. A record cut short or with a bad header at the end
 * (a run killed during an append) is cut off and reported; a body is checked against its
 * checksum before it is first served, and a damaged one is never served (IXFR from it or
 * before it gets the whole zone). A file of another zone, of the earlier format or damaged at
 * its start is reported and the journal starts empty: IXFR falls back to a full transfer
 * until new versions come.
 */
export class Journal {
  /** The kept diffs, oldest first; the file's octets before the first one are dropped ones. */
  private records: RecordIndex[];
  /** The file's length: where the next diff goes (0: there is no good file yet). */
  private end: number;
  private headerLength = 0;
  /** The serials (`to`) of the diffs whose bodies matched their checksum, or were written by this process. */
  private readonly verified = new Set<number>();
  /** The appends and compactions, one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  readonly maxVersions: number;
  readonly maxBytes: number;

  private constructor(
    private readonly options: JournalOptions,
    scanned: Scan,
  ) {
    this.maxVersions = options.maxVersions ?? DEFAULT_JOURNAL_VERSIONS;
    this.maxBytes = options.maxBytes ?? DEFAULT_JOURNAL_BYTES;
    if (!Number.isInteger(this.maxVersions) || this.maxVersions < 1)
      throw new ValueError(`journal ${options.file}: maxVersions must be a whole number of at least 1, not ${this.maxVersions}`);
    if (!Number.isInteger(this.maxBytes) || this.maxBytes < 1)
      throw new ValueError(`journal ${options.file}: maxBytes must be a whole number of at least 1, not ${this.maxBytes}`);
    this.records = scanned.records;
    this.end = scanned.end;
    this.headerLength = scanned.headerLength;
    this.bound();
    if (this.end > 0) this.report({ msg: 'journal, opened', versions: this.size, bytes: this.bytes }, 'info');
  }

  /** Opens a zone's journal: the headers of what its file holds (never the diffs themselves). */
  static open(options: JournalOptions): Journal {
    return new Journal(options, scan(options));
  }

  /** The number of diffs held. */
  get size(): number {
    return this.records.length;
  }

  /** The octets the kept diffs take in the file. */
  get bytes(): number {
    const first = this.records[0];
    return first === undefined ? 0 : this.end - first.offset;
  }

  /** The oldest serial an IXFR can start from, and the newest it leads to (none when empty). */
  get serials(): { readonly oldest: number; readonly newest: number } | undefined {
    if (this.records.length === 0) return undefined;
    return { oldest: this.records[0]!.from, newest: this.records[this.records.length - 1]!.to };
  }

  /**
   * Appends the step from one signed version to the next; resolves once it is on disk (synced),
   * so that the version may be announced. A diff that does not start where the newest one ends
   * (the zone was published past the journal) starts the journal afresh. The oldest diffs beyond
   * the bounds are dropped. Rejects with an `IO` SignerError when the file cannot be written; the
   * journal is then left as it was. Appends run one after another in the order asked.
   */
  add(diff: ZoneDiff): Promise<void> {
    const from = soaSerial(diff.from.rdata);
    const to = soaSerial(diff.to.rdata);
    if (!serialGreater(to, from)) return Promise.reject(new ValueError(`journal ${this.options.file}: serial ${to} does not follow ${from} (RFC 1982)`));
    const run = this.queue.then(() => this.append(bodyLength(diff), encodeBody(diff), from, to));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends the step from one signed version to the next (see `add`), worked out by a merge
   * walk of the two in canonical order (zone/version.ts) for each side, written as it is
   * found, so that neither the versions nor the diff are held in memory; a diff that grows
   * beyond the bounds is cut off and not kept. Both versions must stay readable until the
   * promise settles.
   */
  addVersion(old: ZoneVersion, next: ZoneVersion): Promise<void> {
    const before = soaRecord(old);
    const after = soaRecord(next);
    const from = soaSerial(before.rdata);
    const to = soaSerial(after.rdata);
    if (!serialGreater(to, from)) return Promise.reject(new ValueError(`journal ${this.options.file}: serial ${to} does not follow ${from} (RFC 1982)`));
    const run = this.queue.then(() => this.appendWalk(before, after, old, next, from, to));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Resolves when the appends asked so far are done (written or failed). */
  async settled(): Promise<void> {
    await this.queue;
  }

  /**
   * The diffs that take a secondary from `serial` to `current`, oldest first, read from the file
   * as they are iterated (each once, in order; the iteration is to start before the journal
   * next changes): empty when it is current already, undefined when the journal does not reach
   * back to `serial`, does not end at `current`, or a diff on the way is damaged (the caller
   * then sends the whole zone). A body not yet checked is checked here, once.
   */
  diffsFrom(serial: number, current: number): Iterable<StreamedDiff> | undefined {
    if (serial === current) return [];
    if (this.serials?.newest !== current) return undefined;
    const start = this.records.findIndex((r) => r.from === serial);
    if (start < 0) return undefined;
    const chain = this.records.slice(start);
    if (!this.check(chain)) return undefined;
    return readDiffs(this.options.file, chain);
  }

  /** Checks the bodies of a chain not checked yet; a damaged one and all before it are dropped. */
  private check(chain: readonly RecordIndex[]): boolean {
    const unchecked = chain.filter((r) => !this.verified.has(r.to));
    if (unchecked.length === 0) return true;
    let fd: number;
    try {
      fd = openSync(this.options.file, 'r');
    } catch (e) {
      this.report({ msg: 'journal, unreadable', reason: (e as NodeJS.ErrnoException).code ?? String(e) });
      return false;
    }
    try {
      for (const r of unchecked) {
        if (checksumOf(fd, r.offset + RECORD_HEADER_LENGTH, r.length) === r.checksum) {
          this.verified.add(r.to);
          continue;
        }
        const at = this.records.indexOf(r);
        this.report({
          msg: 'journal, damaged diff dropped',
          serial: r.to,
          offset: r.offset,
          versions: at + 1,
          reason: `the diff from serial ${r.from} to ${r.to} does not match its checksum; it and the ${at} older one(s) are no longer served`,
        });
        this.records = this.records.slice(at + 1);
        return false;
      }
      return true;
    } finally {
      closeSync(fd);
    }
  }

  /** A diff that does not start where the newest one ends starts the journal afresh. */
  private followOn(from: number, to: number): void {
    const newest = this.serials?.newest;
    if (newest !== undefined && newest !== from) {
      this.report({ msg: 'journal, restarted', reason: `the new version follows serial ${from}, the journal ends at ${newest}`, serial: to });
      this.records = [];
    }
  }

  /** A diff of `length` octets that is not kept: reported, and the journal emptied. */
  private async tooLarge(to: number, length: number): Promise<void> {
    this.report({
      msg: 'journal, diff too large, not kept',
      serial: to,
      bytes: length,
      reason: `the diff takes ${length} octets, more than the journal's bound of ${this.maxBytes}`,
    });
    this.records = [];
    await this.io(() => this.compact());
  }

  /** Appends a diff's body of `length` octets, written as `pieces` come. */
  private async append(length: number, pieces: Iterable<Uint8Array>, from: number, to: number): Promise<void> {
    this.followOn(from, to);
    if (RECORD_HEADER_LENGTH + length > this.maxBytes || length > MAX_BODY_LENGTH) return this.tooLarge(to, length);
    await this.io(async () => {
      if (this.end === 0) await this.create();
      const handle = await open(this.options.file, 'r+');
      const offset = this.end;
      try {
        let at = offset + RECORD_HEADER_LENGTH;
        let checksum = 0;
        for (const piece of pieces) {
          checksum = crc32(piece, checksum);
          await writeAll(handle, piece, at);
          at += piece.length;
        }
        await this.endRecord(handle, { from, to, offset, length: at - offset - RECORD_HEADER_LENGTH, checksum });
      } catch (e) {
        await handle.truncate(offset).catch(() => undefined);
        throw e;
      } finally {
        await handle.close();
      }
      this.bound();
      await this.compact();
    });
  }

  /**
   * Appends the diff of two versions (addVersion): each side found by a walk of both and
   * written as it comes, its count put in front of it once known, the body's checksum read
   * back from the file (page cache) at the end.
   */
  private async appendWalk(before: DiffRecord, after: DiffRecord, old: ZoneVersion, next: ZoneVersion, from: number, to: number): Promise<void> {
    this.followOn(from, to);
    const limit = Math.min(this.maxBytes - RECORD_HEADER_LENGTH, MAX_BODY_LENGTH);
    let cutAt: number | undefined;
    await this.io(async () => {
      if (this.end === 0) await this.create();
      const handle = await open(this.options.file, 'r+');
      const offset = this.end;
      const start = offset + RECORD_HEADER_LENGTH;
      try {
        let at = start;
        const w = new ByteWriter(CHUNK + 66_000);
        let turned = performance.now();
        const flush = async (): Promise<void> => {
          if (at - start + w.length > limit) {
            cutAt = at - start + w.length;
            throw new ValueError(`journal ${this.options.file}: the diff to serial ${to} is too large`);
          }
          await writeAll(handle, w.view(), at);
          at += w.length;
          w.reset();
          turned = performance.now();
        };
        writeDiffRecord(w, before);
        writeDiffRecord(w, after);
        for (const side of ['deleted', 'added'] as const) {
          const countAt = at + w.length;
          w.u32(0);
          let n = 0;
          for (const r of versionChanges(old, next, side)) {
            if (r !== null) {
              writeDiffRecord(w, r);
              n++;
              if (w.length >= CHUNK) await flush();
            } else if (performance.now() - turned > TURN_MS) {
              // a long walk over what did not change lets the event loop turn
              await new Promise((resolve) => setImmediate(resolve));
              turned = performance.now();
            }
          }
          await flush();
          const count = Buffer.alloc(4);
          count.writeUInt32BE(n);
          await writeAll(handle, count, countAt);
        }
        const checksum = await checksumOfHandle(handle, start, at - start, this.options.file);
        await this.endRecord(handle, { from, to, offset, length: at - start, checksum });
      } catch (e) {
        await handle.truncate(offset).catch(() => undefined);
        if (cutAt !== undefined) return;
        throw e;
      } finally {
        await handle.close();
      }
      this.bound();
      await this.compact();
    });
    if (cutAt !== undefined) await this.tooLarge(to, cutAt);
  }

  /** Writes the header of a record whose body is written, syncs the file, and keeps the record. */
  private async endRecord(handle: FileHandle, record: RecordIndex): Promise<void> {
    // the header last: until it is written, the record is a torn one that the next open cuts off
    await writeAll(handle, encodeRecordHeader(record), record.offset);
    await handle.sync();
    this.records.push(record);
    this.verified.add(record.to);
    this.end = record.offset + RECORD_HEADER_LENGTH + record.length;
  }

  /** Drops the oldest diffs beyond the bounds. */
  private bound(): void {
    while (this.records.length > this.maxVersions) this.records.shift();
    while (this.records.length > 0 && this.bytes > this.maxBytes) this.records.shift();
  }

  /**
   * Removes the dropped diffs from the file's start once they outweigh the kept ones (so the
   * file holds at most about twice the kept octets, and each octet is copied a bounded number
   * of times): the kept ones are copied, in pieces, into a new file that is synced and renamed
   * over the old. With nothing kept, the file is cut to its header.
   */
  private async compact(): Promise<void> {
    if (this.end === 0) return;
    const first = this.records[0]?.offset ?? this.end;
    const dropped = first - this.headerLength;
    if (dropped === 0) return;
    const file = this.options.file;
    if (this.records.length === 0) {
      const handle = await open(file, 'r+');
      try {
        await handle.truncate(this.headerLength);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.end = this.headerLength;
      return;
    }
    if (dropped <= this.bytes) return;
    const tmp = temporaryName(file, process.pid);
    const source = await open(file, 'r');
    const target = await open(tmp, 'w', 0o600);
    try {
      const header = encodeFileHeader(this.options.origin);
      await writeAll(target, header, 0);
      const buf = Buffer.allocUnsafe(CHUNK);
      for (let at = first; at < this.end;) {
        const { bytesRead } = await source.read(buf, 0, Math.min(CHUNK, this.end - at), at);
        if (bytesRead === 0) throw new WireFormatError(`journal ${file}: the file ends before its last diff`, at);
        await writeAll(target, buf.subarray(0, bytesRead), header.length + at - first);
        at += bytesRead;
      }
      await target.sync();
    } catch (e) {
      await target.close();
      await rm(tmp, { force: true });
      throw e;
    } finally {
      await source.close();
    }
    await target.close();
    await rename(tmp, file);
    syncFolderOf(file);
    const shift = first - this.headerLength;
    this.records = this.records.map((r) => ({ ...r, offset: r.offset - shift }));
    this.end -= shift;
  }

  /** Writes a new file holding the header alone (there was none, or it was not good). */
  private async create(): Promise<void> {
    const header = encodeFileHeader(this.options.origin);
    const handle = await open(this.options.file, 'w', 0o600);
    try {
      await writeAll(handle, header, 0);
      await handle.sync();
    } finally {
      await handle.close();
    }
    syncFolderOf(this.options.file);
    this.headerLength = header.length;
    this.end = header.length;
  }

  /** Runs a file operation; a failure becomes an `IO` SignerError naming the file. */
  private async io(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      if (e instanceof SignerError) throw e;
      throw new SignerError('IO', `journal ${this.options.file}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
  }

  private report(event: Omit<JournalEvent, 'zone' | 'file' | 'level'>, level: JournalEvent['level'] = 'warn'): void {
    this.options.log?.({ zone: this.options.origin.toString(), file: this.options.file, level, ...event });
  }
}

/** What opening found: the good records, and where the file ends after a torn tail is cut. */
interface Scan {
  readonly records: RecordIndex[];
  readonly end: number;
  readonly headerLength: number;
}

/**
 * Reads a journal file's header and its records' headers (never their bodies); a torn tail is
 * cut off, every way it can fail is reported and gives an empty journal (the first append then
 * writes a new file).
 */
function scan(options: JournalOptions): Scan {
  const none: Scan = { records: [], end: 0, headerLength: 0 };
  const log = (event: Omit<JournalEvent, 'zone' | 'file' | 'level'>, level: JournalEvent['level'] = 'warn'): void =>
    options.log?.({ zone: options.origin.toString(), file: options.file, level, ...event });
  const unreadable = (reason: string): Scan => {
    log({ msg: 'journal, unreadable, starting empty', reason });
    return none;
  };
  let fd: number;
  try {
    fd = openSync(options.file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? none : unreadable(code ?? String(e));
  }
  let records: RecordIndex[] = [];
  let pos: number;
  let size: number;
  let headerLength: number;
  try {
    size = fstatSync(fd).size;
    const start = Buffer.alloc(Math.min(size, 8 + 2 + 255 + 4));
    readSync(fd, start, 0, start.length, 0);
    if (Buffer.from(start.subarray(0, OLD_FILE_MAGIC.length)).equals(OLD_FILE_MAGIC)) {
      log({
        msg: 'journal, earlier format discarded',
        reason:
          'a whole-file journal of an earlier hms (HMSJRNL1); IXFR gets the whole zone until new versions come, and the next one starts a journal of the new format',
      });
      return none;
    }
    headerLength = fileHeaderLength(start);
    if (size < headerLength) throw new WireFormatError('the file header is cut short', size);
    const origin = decodeFileHeader(start.subarray(0, headerLength));
    if (!origin.equals(options.origin)) return unreadable(`it is the journal of ${origin.toString()}`);
    const head = Buffer.alloc(RECORD_HEADER_LENGTH);
    for (pos = headerLength; size - pos >= RECORD_HEADER_LENGTH; pos += RECORD_HEADER_LENGTH + records.at(-1)!.length) {
      readSync(fd, head, 0, RECORD_HEADER_LENGTH, pos);
      const record = decodeRecordHeader(head, pos);
      if (record === undefined || pos + RECORD_HEADER_LENGTH + record.length > size) break;
      // a diff that does not follow the one before starts the chain afresh (as `add` does)
      if (records.length > 0 && records.at(-1)!.to !== record.from) records = [];
      records.push(record);
    }
  } catch (e) {
    if (e instanceof WireFormatError) return unreadable(e.message);
    return unreadable((e as NodeJS.ErrnoException).code ?? String(e));
  } finally {
    closeSync(fd);
  }
  if (pos < size) {
    log({
      msg: 'journal, torn tail cut off',
      offset: pos,
      bytes: size - pos,
      reason: 'the last diff was not written whole (a run stopped while appending it); it is never served',
    });
    try {
      truncateSync(options.file, pos);
    } catch (e) {
      return unreadable((e as NodeJS.ErrnoException).code ?? String(e));
    }
  }
  return { records, end: pos, headerLength };
}

/** The octets of a record in a diff's body (journal-file.ts). */
function recordLength(r: DiffRecord): number {
  return r.owner.wire.length + 10 + r.rdata.length;
}

/** The octets of a diff's body (journal-file.ts), counted without writing it. */
function bodyLength(diff: ZoneDiff): number {
  let n = 8 + recordLength(diff.from) + recordLength(diff.to);
  for (const records of [diff.deleted, diff.added]) for (const r of records) n += recordLength(r);
  return n;
}

/** The CRC-32 of `length` octets of a file from `start`, read in pieces. */
async function checksumOfHandle(handle: FileHandle, start: number, length: number, file: string): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(length, 1)));
  let sum = 0;
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, length - done), start + done);
    if (bytesRead === 0) throw new WireFormatError(`journal ${file}: the file ends inside the diff just written`, start + done);
    sum = crc32(buf.subarray(0, bytesRead), sum);
    done += bytesRead;
  }
  return sum;
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < bytes.length;) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}
