import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SignerError } from '../common/errors.js';
import { openRegularFile, readRegularFile } from './regular-file.js';

function refusal(f: () => unknown): SignerError {
  try {
    f();
  } catch (e) {
    if (e instanceof SignerError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('readRegularFile (issue 17: files others write are read as regular files, bounded)', () => {
  let dir: string;
  let server: Server | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hms-regular-'));
  });
  afterEach(() => {
    server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('OPS-6 refuses /dev/zero, a FIFO with no writer, a directory and a socket at once, naming the file and what it is', async () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    mkdirSync(join(dir, 'folder'));
    const socket = join(dir, 'sock');
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(socket, resolve));
    for (const [path, kind] of [
      ['/dev/zero', 'a character device'],
      [fifo, 'a FIFO'],
      [join(dir, 'folder'), 'a directory'],
      [socket, 'a socket'],
    ] as const) {
      const e = refusal(() => readRegularFile(path, 'configuration', 1 << 20));
      expect(e.code, path).toBe('INPUT_REFUSED');
      expect(e.message).toContain(`${path}: the configuration is refused: it is ${kind}`);
    }
  });

  it('OPS-6 refuses a file over the limit by its size, without reading it, and reads one at the limit', () => {
    const big = join(dir, 'big');
    writeFileSync(big, '');
    truncateSync(big, 2 ** 30); // sparse: 1 GiB that reading would take a while to go through
    const e = refusal(() => readRegularFile(big, 'configuration', 16 << 20));
    expect(e.code).toBe('INPUT_REFUSED');
    expect(e.message).toBe(`${big}: the configuration is refused: larger than 16 MiB, the most hms reads of a configuration`);
    const exact = join(dir, 'exact');
    writeFileSync(exact, 'x'.repeat(4096));
    expect(readRegularFile(exact, 'PIN file', 4096).length).toBe(4096);
    writeFileSync(exact, 'x'.repeat(4097));
    expect(refusal(() => readRegularFile(exact, 'PIN file', 4096)).message).toMatch(/larger than 4 KiB/);
  });

  it('a missing file is IO naming it; the check sees the mode of the file opened and closes it when it throws', () => {
    expect(refusal(() => readRegularFile(join(dir, 'none'), 'PIN file', 4096))).toMatchObject({
      code: 'IO',
      message: `${join(dir, 'none')}: cannot read the PIN file (ENOENT)`,
    });
    const file = join(dir, 'pin');
    writeFileSync(file, '1234\n');
    chmodSync(file, 0o644);
    let seen = 0;
    const fds = (): number => {
      const fd = openSync(file, 'r');
      closeSync(fd);
      return fd;
    };
    const before = fds();
    expect(() =>
      readRegularFile(file, 'PIN file', 4096, ({ mode }) => {
        seen = mode & 0o777;
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(seen).toBe(0o644);
    expect(fds()).toBe(before);
    const opened = openRegularFile(file, 'PIN file');
    closeSync(opened.fd);
    expect(opened.size).toBe(5);
  });
});
