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
 * Writes a zone file atomically: into a temporary file beside it, synced, then renamed over
 * the old one, so a reader sees the old file or the new one, never half of one (OPS-7).
 */
export function writeZoneFileAtomically(path: string, lines: Iterable<string>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    let chunk = '';
    for (const line of lines) {
      chunk += `${line}\n`;
      if (chunk.length > 1 << 16) {
        writeSync(fd, chunk, null, 'latin1');
        chunk = '';
      }
    }
    writeSync(fd, chunk, null, 'latin1');
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
