import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { SignerError } from '../common/errors.js';

/**
 * Files hms reads that someone else writes (zone input, the configuration, policies, the PIN
 * and TSIG secret files) are read only when they are regular files, and only up to a limit:
 * a FIFO, a device (/dev/zero), a directory or a socket is refused at once, naming the file,
 * and so is a file larger than the limit. This module is the one place that opens them.
 */

/** An open regular file: its descriptor (the caller closes it), size and identity (device:inode). */
export interface RegularFile {
  readonly fd: number;
  readonly size: number;
  readonly id: string;
  readonly mode: number;
}

/** What a file that is not a regular one is, in words. */
function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a file';
}

const refused = (path: string, what: string, reason: string): SignerError =>
  new SignerError('INPUT_REFUSED', `${path}: the ${what} is refused: ${reason}`, { details: { file: path } });

/**
 * Opens `path` for reading, without blocking (O_NONBLOCK: a FIFO with no writer does not hold
 * open() up), and checks the descriptor itself (fstat) is a regular file: no window between a
 * check and the open. `what` names the file's role in errors ("zone file", "configuration").
 * Throws SignerError INPUT_REFUSED (not a regular file) or IO (cannot be opened).
 */
export function openRegularFile(path: string, what: string): RegularFile {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // a socket cannot be opened at all (ENXIO): say what it is
    if (code === 'ENXIO') {
      let s: Stats | undefined;
      try {
        s = statSync(path);
      } catch {
        // as the open said
      }
      if (s !== undefined && !s.isFile()) throw refused(path, what, `it is ${kindOf(s)}, not a regular file`);
    }
    throw new SignerError('IO', `${path}: cannot read the ${what} (${code ?? String(e)})`, { cause: e, details: { file: path } });
  }
  let s: Stats;
  try {
    s = fstatSync(fd);
  } catch (e) {
    closeSync(fd);
    throw new SignerError('IO', `${path}: cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
  }
  if (!s.isFile()) {
    closeSync(fd);
    throw refused(path, what, `it is ${kindOf(s)}, not a regular file`);
  }
  return { fd, size: s.size, id: `${s.dev}:${s.ino}`, mode: s.mode };
}

/** "16 MiB", "1 GiB", "4096 octets": a limit as people read it. */
export function formatOctets(n: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} octets`;
}

/**
 * Reads a whole regular file of at most `maxOctets` octets (see openRegularFile). A larger
 * one is refused at once, by its size, without reading it; one that grows past the limit
 * while read is refused too. `check` sees the open file first (e.g. its mode) and may throw.
 */
export function readRegularFile(path: string, what: string, maxOctets: number, check?: (file: RegularFile) => void): Buffer {
  const file = openRegularFile(path, what);
  try {
    check?.(file);
    const tooLarge = (): SignerError => refused(path, what, `larger than ${formatOctets(maxOctets)}, the most hms reads of a ${what}`);
    if (file.size > maxOctets) throw tooLarge();
    // one octet more than the limit: a file that grew past it while read is seen to
    let buf = Buffer.allocUnsafe(Math.min(maxOctets, file.size) + 1);
    let used = 0;
    for (;;) {
      if (used === buf.length) {
        if (used > maxOctets) throw tooLarge();
        const bigger = Buffer.allocUnsafe(Math.min(maxOctets + 1, 2 * buf.length));
        buf.copy(bigger, 0, 0, used);
        buf = bigger;
      }
      const n = readSync(file.fd, buf, used, buf.length - used, null);
      if (n === 0) break;
      used += n;
    }
    if (used > maxOctets) throw tooLarge();
    return buf.subarray(0, used);
  } finally {
    closeSync(file.fd);
  }
}

/** As readRegularFile, as UTF-8 text. */
export function readRegularTextFile(path: string, what: string, maxOctets: number, check?: (file: RegularFile) => void): string {
  return readRegularFile(path, what, maxOctets, check).toString('utf8');
}

/**
 * The configuration and policy files: larger than any real one (50,000 zones take some
 * 3.5 MB), and small enough that reading one, on a reload too, stays within seconds whatever
 * it holds (16 MiB of keys took 17 s of CPU to parse here, 4 MiB about 5 s).
 */
export const MAX_CONFIG_OCTETS = 4 * 2 ** 20;
/** A PIN or a TSIG secret file: one short line. */
export const MAX_SECRET_OCTETS = 4 * 2 ** 10;
