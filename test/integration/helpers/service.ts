import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { hmsConfig } from '../../../scripts/lab/configs.js';
import { ROOT } from './run.js';
import { throwawayToken } from './softhsm.js';

/** A pino logger (level info) whose lines are kept, parsed, in `lines`: a test reads what was logged. */
export function logLines(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    }),
  );
  return { log, lines };
}

/**
 * A folder for an in-process service: a throwaway token `label` with its PIN in `pin` (mode
 * 0600) and the example zone in `zones/example.com.zone`. The caller disposes of the token
 * and removes the folder.
 */
export function serviceFolder(prefix: string, label: string): { tmp: string; token: ReturnType<typeof throwawayToken> } {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const token = throwawayToken(label);
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(tmp, 'zones/example.com.zone'));
  return { tmp, token };
}

/**
 * The configuration of a test's `hms run` on `listen` (a loopback address and port), with the
 * token `token` (PIN in `pin`), the key xfr-key (secret in `xfr.secret`), the secondary
 * test-client (127.0.0.1) and example.com from zones/example.com.zone; `zones` adds lines
 * below `zones:`.
 */
export function loopbackServiceConfig(o: { token: string; listen: string; zones?: string }): string {
  return hmsConfig(o);
}
