import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignerError } from '../common/errors.js';
import { lockExclusive } from './os.js';

/** The exclusive lock on the state: whoever holds it is the one writer (ARCHITECTURE.md). */
export interface StateLock {
  /** Gives the lock up (the kernel also does when the process ends). */
  release(): void;
}

/** The lock file beside the state file. */
export const lockFileOf = (state: string): string => `${state}.lock`;

/**
 * Takes the exclusive lock on the state (`STATE.lock`, an flock(2) that the kernel releases
 * when the holder ends: a crash leaves no stale lock). `hms run` holds it while it runs; a
 * CLI without a running service holds it for one request. Undefined when another process
 * holds it; the file then names that process.
 */
export function tryLockState(state: string, holder: string): StateLock | undefined {
  const file = lockFileOf(state);
  let fd: number;
  try {
    // the state's folder, as the store makes it (owner only)
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    fd = openSync(file, 'a+', 0o600);
  } catch (e) {
    throw new SignerError('IO', `${file}: cannot open the state's lock (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (!lockExclusive(fd)) {
    closeSync(fd);
    return undefined;
  }
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid} ${holder}\n`);
  let held = true;
  return {
    release(): void {
      if (!held) return;
      held = false;
      closeSync(fd);
    },
  };
}

/** Who holds the lock, as the holder wrote it (pid and what it is), for messages. */
export function lockHolder(state: string): string {
  try {
    return readFileSync(lockFileOf(state), 'utf8').trim() || 'another process';
  } catch {
    return 'another process';
  }
}
