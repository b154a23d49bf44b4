/**
 * Creates the development SoftHSM token `hms` (called by scripts/setup). The user and SO PINs
 * are random, written to hsm/pin and hsm/so-pin with mode 0600 before they are used, never
 * printed and never put on a command line (softhsm2-util would need them in argv). An existing
 * token is left alone. Run from the repository root with SOFTHSM2_CONF set.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';

const LABEL = 'hms';
const HSM_DIR = 'hsm';
const MODULE_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

function fail(message: string): never {
  process.stderr.write(`init-dev-token: ${message}\n`);
  process.exitCode = 1;
  throw new Error(message);
}

function findModule(): string {
  const fromEnv = process.env.SOFTHSM2_LIB;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return MODULE_PATHS.find((p) => existsSync(p)) ?? fail(`no SoftHSM2 library found in ${MODULE_PATHS.join(', ')}; set SOFTHSM2_LIB`);
}

/** Runs a PKCS#11 call; an error names the function and the CKR code. */
function call<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as { message?: string; code?: number };
    return fail(`${name}: ${err.message ?? String(e)}${err.code === undefined ? '' : ` (0x${err.code.toString(16)})`}`);
  }
}

/** PKCS#11 labels are 32 octets, blank-padded (some modules pad with NULs). */
function tokenLabel(raw: string): string {
  return raw.replace(/[\0 ]+$/, '');
}

function writeSecret(path: string): string {
  const secret = randomBytes(16).toString('hex');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

function main(): void {
  const confPath = process.env.SOFTHSM2_CONF ?? fail('SOFTHSM2_CONF is not set');
  const conf = readFileSync(confPath, 'utf8');
  const tokenDir = /^\s*directories\.tokendir\s*=\s*(\S+)/m.exec(conf)?.[1] ?? fail(`no directories.tokendir in ${confPath}`);
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });

  const pkcs11 = new pkcs11js.PKCS11();
  pkcs11.load(findModule());
  call('C_Initialize', () => pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }));
  try {
    const slots = call('C_GetSlotList', () => pkcs11.C_GetSlotList(true));
    const infos = slots.map((slot) => ({ slot, info: call('C_GetTokenInfo', () => pkcs11.C_GetTokenInfo(slot)) }));
    const pinPath = join(HSM_DIR, 'pin');
    const existing = infos.find(({ info }) => tokenLabel(info.label) === LABEL && (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0);
    if (existing !== undefined) {
      if (!existsSync(pinPath)) {
        fail(`token '${LABEL}' exists but ${pinPath} is gone: remove ${tokenDir} to start over (its keys are lost)`);
      }
      process.stdout.write(`setup: SoftHSM token '${LABEL}' is there\n`);
      return;
    }
    const free = infos.find(({ info }) => (info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
    if (free === undefined) fail('no free SoftHSM slot to initialise');
    for (const p of [pinPath, join(HSM_DIR, 'so-pin')]) if (existsSync(p)) fail(`${p} exists but there is no token '${LABEL}': remove it first`);
    const soPin = writeSecret(join(HSM_DIR, 'so-pin'));
    const pin = writeSecret(pinPath);
    call('C_InitToken', () => pkcs11.C_InitToken(free.slot, soPin, LABEL.padEnd(32, ' ')));
    // SoftHSM gives the new token a new slot: find it again by label
    const slot = call('C_GetSlotList', () => pkcs11.C_GetSlotList(true)).find((s) => tokenLabel(pkcs11.C_GetTokenInfo(s).label) === LABEL)
      ?? fail(`token '${LABEL}' not found after C_InitToken`);
    const session = call('C_OpenSession', () => pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    call('C_Login', () => pkcs11.C_Login(session, pkcs11js.CKU_SO, soPin));
    call('C_InitPIN', () => pkcs11.C_InitPIN(session, pin));
    call('C_Logout', () => pkcs11.C_Logout(session));
    call('C_CloseSession', () => pkcs11.C_CloseSession(session));
    process.stdout.write(`setup: SoftHSM token '${LABEL}' created; PINs in ${pinPath} and ${HSM_DIR}/so-pin (mode 0600)\n`);
  } finally {
    pkcs11.C_Finalize();
  }
}

try {
  main();
} catch {
  // already reported
  process.exitCode = 1;
}
