import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import pkcs11js from 'pkcs11js';
import { SignerError } from '../common/errors.js';
import { SigningPool } from './sign-pool.js';
import { CKR_CRYPTOKI_ALREADY_INITIALIZED, CKR_USER_ALREADY_LOGGED_IN, HsmError, pkcs11Call, toHsmError } from './errors.js';

/** Where SoftHSM2's library is on the systems hms runs on. */
export const SOFTHSM_PATHS = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

/** The PKCS#11 module to load: the given path, HMS_PKCS11_MODULE, or SoftHSM2's library. */
export function findModule(path?: string): string {
  const chosen = path ?? process.env.HMS_PKCS11_MODULE;
  if (chosen !== undefined && chosen !== '') return chosen;
  const found = SOFTHSM_PATHS.find((p) => existsSync(p));
  if (found === undefined) throw new SignerError('HSM', `no PKCS#11 module given and SoftHSM2 not found in ${SOFTHSM_PATHS.join(', ')}`);
  return found;
}

/** PKCS#11 labels are 32 octets, blank-padded (some modules pad with NULs). */
export function tokenLabel(raw: string): string {
  return raw.replace(/[\0 ]+$/, '');
}

/** Modules loaded in this process, with how many users each has (C_Finalize is process-wide). */
const loaded = new Map<string, { pkcs11: pkcs11js.PKCS11; users: number }>();

/**
 * Loads the PKCS#11 module and calls C_Initialize with CKF_OS_LOCKING_OK (without it,
 * concurrent signing from several sessions crashes or hangs in SoftHSM). Every caller shares
 * the one initialisation and gives it back with `releaseModule`: C_Finalize ends the
 * sessions of the whole process, so it is called only when the last user is done.
 */
export function loadModule(path?: string): { pkcs11: pkcs11js.PKCS11; modulePath: string } {
  const modulePath = findModule(path);
  const had = loaded.get(modulePath);
  if (had !== undefined) {
    had.users++;
    return { pkcs11: had.pkcs11, modulePath };
  }
  const pkcs11 = new pkcs11js.PKCS11();
  pkcs11Call('load', modulePath, () => pkcs11.load(modulePath));
  try {
    pkcs11.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    // tolerated by name: another part of this process initialised the module first
    const code = (e as { code?: number }).code;
    if (code !== CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      // SoftHSM says only CKR_GENERAL_ERROR for a configuration it cannot use: say what is wrong with it
      const why = code === CKR_GENERAL_ERROR && /softhsm/i.test(modulePath) ? softHsmConfigProblem(process.env.SOFTHSM2_CONF) : undefined;
      throw why === undefined ? toHsmError('C_Initialize', modulePath, e) : new HsmError('C_Initialize', modulePath, code, why, e);
    }
  }
  loaded.set(modulePath, { pkcs11, users: 1 });
  return { pkcs11, modulePath };
}

const CKR_GENERAL_ERROR = 0x05;

/**
 * What is wrong with SoftHSM's configuration (`conf`: SOFTHSM2_CONF, else its default file), if
 * something is: the file missing or unreadable, no `directories.tokendir`, a relative one
 * (SoftHSM takes it from wherever the process runs), or a folder that is not there or not
 * writable. Undefined when all looks right (the failure is something else).
 */
export function softHsmConfigProblem(conf: string | undefined): string | undefined {
  const file = conf ?? '/etc/softhsm/softhsm2.conf';
  const from = conf === undefined ? `${file} (SOFTHSM2_CONF is not set)` : `SOFTHSM2_CONF=${file}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return `SoftHSM's configuration ${from} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}); bash scripts/setup writes one`;
  }
  const dir = /^\s*directories\.tokendir\s*=\s*(.*?)\s*$/m.exec(text)?.[1];
  if (dir === undefined || dir === '') return `SoftHSM's configuration ${from} names no directories.tokendir`;
  if (!isAbsolute(dir)) return `directories.tokendir in ${file} is '${dir}', a relative path: SoftHSM needs an absolute one`;
  try {
    if (!statSync(dir).isDirectory()) return `directories.tokendir in ${file} (${dir}) is not a folder`;
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (e) {
    return `directories.tokendir in ${file} (${dir}) cannot be used (${(e as NodeJS.ErrnoException).code ?? String(e)}): it must be a folder this user can read and write`;
  }
  return undefined;
}

/** Gives back a module of `loadModule`; the last user's release finalises it. */
export function releaseModule(modulePath: string): void {
  const had = loaded.get(modulePath);
  if (had === undefined || --had.users > 0) return;
  loaded.delete(modulePath);
  try {
    had.pkcs11.C_Finalize();
  } catch {
    // the device may be gone already; there is nothing left to close
  }
}

export interface TokenOptions {
  readonly module?: string;
  readonly label: string;
  readonly pin: string;
  /** Sessions kept open for signing; signatures in flight at once (default 2). */
  readonly sessions?: number;
  /** Signing threads of `startSigningThreads` (default: one per session). */
  readonly signingThreads?: number;
}

/**
 * How signatures are made: `threads` (the default for zone signing) gives each session a
 * worker thread that calls the blocking C_SignInit/C_Sign; `async` uses pkcs11js's
 * asynchronous C_Sign from the main thread (its C_SignInit blocks the main thread).
 */
export type SigningMode = 'threads' | 'async';

/**
 * A logged-in PKCS#11 token with a pool of sessions. C_Initialize is called with
 * CKF_OS_LOCKING_OK, so the module locks for itself and several sessions can sign at once:
 * through pkcs11js's asynchronous calls on libuv's threads, or, once `startSigningThreads`
 * has run, on a worker thread per session (see SigningMode).
 */
export class Token {
  private readonly free: Buffer[] = [];
  private readonly waiting: ((session: Buffer) => void)[] = [];
  private closed = false;
  private pool: SigningPool | undefined;
  /** The pool being started: every caller meanwhile waits for this one (never a pool each). */
  private starting: Promise<SigningPool> | undefined;

  private constructor(
    readonly pkcs11: pkcs11js.PKCS11,
    readonly modulePath: string,
    readonly slot: Buffer,
    readonly where: string,
    private readonly sessions: Buffer[],
    private readonly threads: number,
  ) {
    this.free.push(...sessions);
  }

  static open(options: TokenOptions): Token {
    const { pkcs11, modulePath } = loadModule(options.module);
    try {
      const slots = pkcs11Call('C_GetSlotList', modulePath, () => pkcs11.C_GetSlotList(true));
      const slot = slots.find((s) => tokenLabel(pkcs11Call('C_GetTokenInfo', modulePath, () => pkcs11.C_GetTokenInfo(s)).label) === options.label);
      if (slot === undefined) throw new HsmError('C_GetTokenInfo', modulePath, 0xe0, `no token labelled '${options.label}'`);
      const where = `token ${options.label}`;
      const count = Math.max(1, options.sessions ?? 2);
      const sessions: Buffer[] = [];
      for (let i = 0; i < count; i++) {
        sessions.push(pkcs11Call('C_OpenSession', where, () => pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION)));
      }
      try {
        pkcs11.C_Login(sessions[0]!, pkcs11js.CKU_USER, options.pin);
      } catch (e) {
        if ((e as { code?: number }).code !== CKR_USER_ALREADY_LOGGED_IN) throw toHsmError('C_Login', where, e);
      }
      return new Token(pkcs11, modulePath, slot, where, sessions, Math.max(1, options.signingThreads ?? count));
    } catch (e) {
      releaseModule(modulePath);
      throw e;
    }
  }

  /** Runs `fn` with a session of the pool to itself; waits while all are busy. */
  async withSession<T>(fn: (session: Buffer) => Promise<T> | T): Promise<T> {
    if (this.closed) throw new HsmError('withSession', this.where, 0xb0, 'the token is closed');
    const session = this.free.pop() ?? (await new Promise<Buffer>((resolve) => this.waiting.push(resolve)));
    try {
      return await fn(session);
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next(session);
      else this.free.push(session);
    }
  }

  /**
   * Starts the token's signing threads (SigningMode `threads`; TokenOptions.signingThreads of
   * them), once: callers that come while they start wait for the same pool, which every zone
   * then shares (`signingPool`).
   */
  async startSigningThreads(): Promise<SigningPool> {
    if (this.closed) throw new HsmError('startSigningThreads', this.where, 0xb0, 'the token is closed');
    if (this.pool !== undefined) return this.pool;
    this.starting ??= SigningPool.start(this.modulePath, this.slot, this.where, this.threads).then(
      (pool) => (this.pool = pool),
      (e: unknown) => {
        this.starting = undefined;
        throw e;
      },
    );
    return this.starting;
  }

  /** The PKCS#11 sessions open: the token's own and one per signing thread (0 once closed; the metrics show it). */
  get openSessions(): number {
    return this.closed ? 0 : this.sessions.length * (this.pool === undefined ? 1 : 2);
  }

  /** The signing threads, once started. */
  get signingPool(): SigningPool | undefined {
    return this.pool;
  }

  /**
   * Throws an HsmError when the token no longer answers (C_GetTokenInfo fails). SoftHSM lists
   * no objects, without an error, once its token's store is gone or unreadable: a listing is
   * only believed after this check, else an unreachable token reads as a token without keys.
   */
  ensureReachable(): void {
    try {
      this.pkcs11.C_GetTokenInfo(this.slot);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new HsmError('C_GetTokenInfo', this.where, typeof code === 'number' && code !== 0 ? code : undefined, 'the token is unreachable: its keys cannot be listed', e);
    }
  }

  /** A session for short synchronous work (key lookup, generation) outside the pool's queue. */
  get control(): Buffer {
    return this.sessions[0]!;
  }

  /** Ends the signing threads, closes the sessions and finalises the module. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // a pool still starting is closed once it has started
    const pool = this.pool ?? (await this.starting?.catch(() => undefined));
    await pool?.close();
    for (const s of this.sessions) {
      try {
        this.pkcs11.C_CloseSession(s);
      } catch {
        // the token may be gone already; closing is best effort
      }
    }
    releaseModule(this.modulePath);
  }
}
