import { close, closeSync, copyFileSync, fdatasync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { toBase64 } from '../dns/bytes.js';
import type { IncludeResolver, ZoneSource } from '../dns/zonefile/parser.js';
import { temporaryName } from '../common/temporary-names.js';
import { openRegularFile } from '../files/regular-file.js';
import { syncFolderOf } from '../files/sync-folder.js';

const CHUNK = 1 << 20;
/** AtomicZoneFile starts a background sync after this many octets written since the last. */
const SYNC_AHEAD = 8 << 20;

/**
 * Opens a zone file for the parser: the text arrives in 1 MiB chunks, one character per
 * octet, so the whole file is never held in memory. The file is opened at once, so a missing
 * file fails here and not half-way through a parse; only a regular file is read (a FIFO,
 * /dev/zero, a directory or a socket is refused, see openRegularFile). The descriptor is
 * closed at the end of the text, or by the chunks' `return()`, read or not.
 */
export function openZoneFile(path: string, displayName = path): ZoneSource {
  const file = openRegularFile(path, 'zone file');
  return { file: displayName, id: file.id, chunks: new FileChunks(file.fd, Number(file.size)) };
}

/** The chunks of an open file; `return()` closes it, whether reading began or not. */
class FileChunks implements IterableIterator<string> {
  private fd: number | undefined;
  private buf: Buffer | undefined;
  /** A chunk's size: 1 MiB, or the file's size when less (a small zone's read takes what it needs). */
  private readonly size: number;

  constructor(fd: number, fileSize: number) {
    this.fd = fd;
    this.size = Math.max(1, Math.min(CHUNK, fileSize + 1));
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<string> {
    if (this.fd === undefined) return { done: true, value: undefined };
    this.buf ??= Buffer.allocUnsafe(this.size);
    let n: number;
    try {
      n = readSync(this.fd, this.buf, 0, this.size, null);
    } catch (e) {
      this.return();
      throw e;
    }
    if (n === 0) return this.return();
    return { done: false, value: this.buf.toString('latin1', 0, n) };
  }

  return(): IteratorResult<string> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.buf = undefined;
    return { done: true, value: undefined };
  }
}

/** `$INCLUDE` paths are relative to the including file's folder. */
export const includeRelativeToFile: IncludeResolver = (path, fromFile) => {
  const target = isAbsolute(path) ? path : resolve(dirname(fromFile), path);
  const shown = relative(process.cwd(), target);
  return openZoneFile(target, shown.startsWith('..') || isAbsolute(shown) ? target : shown);
};

/**
 * A zone file written atomically: into a temporary file beside it, synced, then renamed over
 * the old one on `commit`, so a reader sees the old file or the new one, never half of one
 * (OPS-7); `abort` removes the temporary file and leaves the old one as it was.
 */
export class AtomicZoneFile {
  /**
   * Lines not yet written, as octets: gathered in one buffer and written a buffer at a time
   * (zone file text is latin1, as it is read: octets outside printable ASCII are \DDD).
   */
  private readonly pending = Buffer.allocUnsafe(1 << 17);
  private used = 0;
  private done = false;
  /** Octets written since the last background sync began. */
  private unsynced = 0;
  /**
   * A second descriptor of the temporary file, for syncs in the background while it is
   * written (see `write`), and whether one is under way.
   */
  private syncFd: number | undefined;
  private syncing = false;

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly fd: number,
  ) {}

  static open(path: string): AtomicZoneFile {
    const tmp = temporaryName(path, process.pid);
    return new AtomicZoneFile(path, tmp, openSync(tmp, 'w', 0o644));
  }

  line(text: string): void {
    this.text(text);
    this.endLine();
  }

  /** Part of a line (TextSink): lines are written a piece at a time, without joining them first. */
  text(text: string): void {
    if (this.used + text.length > this.pending.length) {
      this.flush();
      if (text.length > this.pending.length) {
        this.write(Buffer.from(text, 'latin1'));
        return;
      }
    }
    this.used += this.pending.write(text, this.used, 'latin1');
  }

  /** Octets in base64 (RFC 4648 section 4, with padding), as toBase64 writes them. */
  base64(octets: Uint8Array): void {
    const length = 4 * Math.ceil(octets.length / 3);
    if (this.used + length > this.pending.length) {
      this.flush();
      if (length > this.pending.length) {
        this.text(toBase64(octets));
        return;
      }
    }
    this.used = writeBase64(octets, this.pending, this.used);
  }

  /** Octets as they are (a binary file written by the same mechanism: the served version's compact file). */
  bytes(octets: Uint8Array): void {
    if (this.used + octets.length > this.pending.length) {
      this.flush();
      if (octets.length > this.pending.length) {
        this.write(octets);
        return;
      }
    }
    this.pending.set(octets, this.used);
    this.used += octets.length;
  }

  /**
   * Writes out and syncs what was written so far, and gives the stamp the file will have once
   * committed (inode, size, mtime: fileStamp of served-file.ts), so that a file written beside
   * it can name the one it mirrors; nothing may be written after.
   */
  stamp(): string {
    this.flushAndSync();
    const s = fstatSync(this.fd, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  }

  endLine(): void {
    if (this.used === this.pending.length) this.flush();
    this.pending[this.used++] = 0x0a;
  }

  private flush(): void {
    this.write(this.pending.subarray(0, this.used));
    this.used = 0;
  }

  private write(octets: Uint8Array): void {
    try {
      for (let at = 0; at < octets.length;) at += writeSync(this.fd, octets, at);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.unsynced += octets.length;
    if (this.unsynced >= SYNC_AHEAD && !this.syncing) this.syncAhead();
  }

  /**
   * Starts an fdatasync of what is written so far, in the background (libuv's thread pool),
   * so that the fsync of `commit` finds little left to write: for a signed zone of 100k
   * records (30 MB) that fsync took 45-90 ms here, every core idle meanwhile. The sync uses
   * a descriptor of its own: Linux reports a write-back error to every open file description
   * of the file (errseq), so the one `commit` syncs still sees it, whatever this one was told.
   */
  private syncAhead(): void {
    this.unsynced = 0;
    try {
      this.syncFd ??= openSync(this.tmp, 'r');
    } catch {
      return; // the fsync of commit does it all
    }
    const fd = this.syncFd;
    this.syncing = true;
    fdatasync(fd, () => {
      this.syncing = false;
      if (this.done) this.closeSyncFd();
    });
  }

  private closeSyncFd(): void {
    if (this.syncFd === undefined || this.syncing) return;
    close(this.syncFd, () => undefined);
    this.syncFd = undefined;
  }

  /** Writes out what is pending and syncs the temporary file; a failure aborts it. */
  private flushAndSync(): void {
    this.flush();
    try {
      fsyncSync(this.fd);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  commit(): void {
    this.flushAndSync();
    this.done = true;
    closeSync(this.fd);
    this.closeSyncFd();
    renameSync(this.tmp, this.path);
    syncFolderOf(this.path);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    this.closeSyncFd();
    rmSync(this.tmp, { force: true });
  }
}

const BASE64 = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');

/** `octets` in base64 into `out` from `at`; the end. */
function writeBase64(octets: Uint8Array, out: Uint8Array, at: number): number {
  const whole = octets.length - (octets.length % 3);
  let i = 0;
  for (; i < whole; i += 3) {
    const v = (octets[i]! << 16) | (octets[i + 1]! << 8) | octets[i + 2]!;
    out[at++] = BASE64[v >>> 18]!;
    out[at++] = BASE64[(v >>> 12) & 63]!;
    out[at++] = BASE64[(v >>> 6) & 63]!;
    out[at++] = BASE64[v & 63]!;
  }
  if (i < octets.length) {
    const two = i + 1 < octets.length;
    const v = (octets[i]! << 16) | (two ? octets[i + 1]! << 8 : 0);
    out[at++] = BASE64[v >>> 18]!;
    out[at++] = BASE64[(v >>> 12) & 63]!;
    out[at++] = two ? BASE64[(v >>> 6) & 63]! : 0x3d;
    out[at++] = 0x3d;
  }
  return at;
}

/**
 * Copies a file atomically, as AtomicZoneFile writes one: into a temporary file beside the
 * target, synced, renamed over it, the folder synced (the signed zone's copy to `output`).
 */
export function copyFileAtomically(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = temporaryName(to, process.pid);
  try {
    copyFileSync(from, tmp);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, to);
  syncFolderOf(to);
}

/** Writes a zone file atomically (see AtomicZoneFile). */
export function writeZoneFileAtomically(path: string, lines: Iterable<string>): void {
  const file = AtomicZoneFile.open(path);
  try {
    for (const line of lines) file.line(line);
  } catch (e) {
    file.abort();
    throw e;
  }
  file.commit();
}
