import { accessSync, closeSync, constants, fsyncSync, openSync, readSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { IncludeResolver, ZoneSource } from '../dns/zonefile/parser.js';

const CHUNK = 1 << 20;

/**
 * Opens a zone file for the parser: the text arrives in 1 MiB chunks, one character per
 * octet, so the whole file is never held in memory. The file is opened at once, so a missing
 * file fails here and not half-way through a parse.
 */
export function openZoneFile(path: string, displayName = path): ZoneSource {
  const id = realpathSync(path);
  accessSync(path, constants.R_OK);
  return { file: displayName, id, chunks: readChunks(path) };
}

function* readChunks(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) return;
      yield buf.toString('latin1', 0, n);
    }
  } finally {
    closeSync(fd);
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
  private chunk = '';
  private done = false;

  private constructor(readonly path: string, private readonly tmp: string, private readonly fd: number) {}

  static open(path: string): AtomicZoneFile {
    const tmp = `${path}.tmp-${process.pid}`;
    return new AtomicZoneFile(path, tmp, openSync(tmp, 'w', 0o644));
  }

  line(text: string): void {
    this.chunk += `${text}\n`;
    if (this.chunk.length > 1 << 16) {
      this.flush();
    }
  }

  private flush(): void {
    try {
      writeSync(this.fd, this.chunk, null, 'latin1');
      this.chunk = '';
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  commit(): void {
    this.flush();
    try {
      fsyncSync(this.fd);
    } catch (e) {
      this.abort();
      throw e;
    }
    this.done = true;
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    closeSync(this.fd);
    rmSync(this.tmp, { force: true });
  }
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
