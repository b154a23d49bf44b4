import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { SignerError } from '../common/errors.js';
import { parseCheckpointLine, parseLogLine, type AuditWitness, type UnreadableWitness } from '../enforcer/audit-witness.js';

const CHUNK = 1 << 16;

/** The lines of a text file, a chunk at a time (logs grow large); the file is opened at once. */
function lines(path: string): Generator<string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new SignerError('IO', `${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { details: { path }, cause: e });
  }
  return (function* () {
    const buf = Buffer.allocUnsafe(CHUNK);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    try {
      for (;;) {
        const n = readSync(fd, buf, 0, CHUNK, null);
        if (n === 0) break;
        const parts = (rest + decoder.write(buf.subarray(0, n))).split('\n');
        rest = parts.pop()!;
        yield* parts;
      }
      rest += decoder.end();
      if (rest !== '') yield rest;
    } finally {
      closeSync(fd);
    }
  })();
}

/** Every line of a checkpoint file: a witness, or an unreadable line (empty lines included). */
export function* readCheckpointFile(path: string): Generator<AuditWitness | UnreadableWitness> {
  let n = 0;
  for (const text of lines(path)) yield parseCheckpointLine(text, `${path}:${++n}`);
}

/** The audit lines of a log file (pino JSON lines or syslog text); other lines are passed over. */
export function* readLogFile(path: string): Generator<AuditWitness> {
  let n = 0;
  for (const text of lines(path)) {
    const w = parseLogLine(text, `${path}:${++n}`);
    if (w !== undefined) yield w;
  }
}
