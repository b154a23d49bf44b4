import { accessSync, closeSync, constants, openSync, readSync, realpathSync } from 'node:fs';
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
