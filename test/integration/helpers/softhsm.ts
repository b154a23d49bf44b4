import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initToken } from '../../../src/hsm/token-init.js';

/**
 * A throwaway SoftHSM token (Knot's test_dnssec_keystore_pkcs11 idea) in a temporary
 * directory, with its own configuration in SOFTHSM2_CONF for this test process. `dispose`
 * removes it.
 */
export function throwawayToken(label: string): { readonly dir: string; readonly pin: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'hms-softhsm-'));
  mkdirSync(join(dir, 'tokens'));
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
  const pin = randomBytes(8).toString('hex');
  if (!initToken({ label, soPin: randomBytes(8).toString('hex'), pin })) throw new Error(`token ${label} exists already`);
  return { dir, pin, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
