/**
 * Creates the development SoftHSM token `hms` (called by scripts/setup). The user and SO PINs
 * are random, written to hsm/pin and hsm/so-pin with mode 0600 before they are used, never
 * printed and never put on a command line (softhsm2-util would need them in argv). An existing
 * token is left alone. Run from the repository root with SOFTHSM2_CONF set.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initToken } from '../src/hsm/token-init.js';

const LABEL = 'hms';
const HSM_DIR = 'hsm';

function writeSecret(path: string): string {
  const secret = randomBytes(16).toString('hex');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

function main(): void {
  const confPath = process.env.SOFTHSM2_CONF;
  if (confPath === undefined) throw new Error('SOFTHSM2_CONF is not set');
  const conf = readFileSync(confPath, 'utf8');
  const tokenDir = /^\s*directories\.tokendir\s*=\s*(\S+)/m.exec(conf)?.[1];
  if (tokenDir === undefined) throw new Error(`no directories.tokendir in ${confPath}`);
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  const pinPath = join(HSM_DIR, 'pin');
  const soPinPath = join(HSM_DIR, 'so-pin');
  if (existsSync(pinPath) && existsSync(soPinPath)) {
    // a token that exists is left alone; one whose files are there but token gone is made again
    const made = initToken({ label: LABEL, soPin: readFileSync(soPinPath, 'utf8').trim(), pin: readFileSync(pinPath, 'utf8').trim() });
    process.stdout.write(made ? `setup: SoftHSM token '${LABEL}' created again with the PINs in ${HSM_DIR}/\n` : `setup: SoftHSM token '${LABEL}' is there\n`);
    return;
  }
  if (existsSync(pinPath) || existsSync(soPinPath))
    throw new Error(`only one of ${pinPath} and ${soPinPath} exists: remove it, and ${tokenDir} if the token is to go`);
  const soPin = writeSecret(soPinPath);
  const pin = writeSecret(pinPath);
  if (!initToken({ label: LABEL, soPin, pin })) {
    throw new Error(`token '${LABEL}' exists but its PINs were gone: remove ${tokenDir} to start over (its keys are lost)`);
  }
  process.stdout.write(`setup: SoftHSM token '${LABEL}' created; PINs in ${pinPath} and ${soPinPath} (mode 0600)\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`init-dev-token: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
