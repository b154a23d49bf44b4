import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignerError } from '../common/errors.js';
import { formatCheckpointLine, type StateRecordHash } from '../enforcer/audit-witness.js';
import { syncFolderOf } from '../files/sync-folder.js';

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
/** Hashes are no secret, but the file is nobody else's business either. */
const FILE_MODE = 0o640;

function ioError(path: string, doing: string, e: unknown): SignerError {
  const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
  return new SignerError('IO', `${path}: cannot ${doing} the audit checkpoint (${reason}); its place is audit.checkpoint in the configuration`, {
    details: { path },
    cause: e,
  });
}

/**
 * Makes sure the checkpoint file can be appended to, creating it (and its folder, 0750) when
 * it is not there: a writer that cannot keep its checkpoint fails when it starts, not at its
 * first change.
 */
export function prepareCheckpoint(path: string): void {
  const created = !existsSync(path);
  let fd: number;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    fd = openSync(path, APPEND, FILE_MODE);
  } catch (e) {
    throw ioError(path, 'open', e);
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (created) syncFolderOf(path);
}

/**
 * Appends a line per committed record (seq, time, hash) and syncs it to disk. The file is
 * opened for each transaction's records with O_APPEND, so it works with the append-only
 * attribute (chattr +a) and a file moved aside is followed by a new one, never truncated.
 */
export function appendCheckpoint(path: string, records: readonly StateRecordHash[]): void {
  if (records.length === 0) return;
  const text = Buffer.from(records.map(formatCheckpointLine).join(''), 'utf8');
  let fd: number;
  try {
    fd = openSync(path, APPEND, FILE_MODE);
  } catch (e) {
    throw ioError(path, 'open', e);
  }
  try {
    let done = 0;
    while (done < text.length) done += writeSync(fd, text, done);
    fsyncSync(fd);
  } catch (e) {
    throw ioError(path, 'write', e);
  } finally {
    closeSync(fd);
  }
}
