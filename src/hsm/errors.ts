import { SignerError } from '../common/errors.js';

/** CKR names of the results hms meets, for messages (PKCS#11 v2.40 section 5.1). */
const CKR_NAMES = new Map<number, string>([
  [0x00, 'CKR_OK'], [0x01, 'CKR_CANCEL'], [0x05, 'CKR_GENERAL_ERROR'], [0x06, 'CKR_FUNCTION_FAILED'],
  [0x07, 'CKR_ARGUMENTS_BAD'], [0x10, 'CKR_ATTRIBUTE_READ_ONLY'], [0x11, 'CKR_ATTRIBUTE_SENSITIVE'],
  [0x12, 'CKR_ATTRIBUTE_TYPE_INVALID'], [0x13, 'CKR_ATTRIBUTE_VALUE_INVALID'], [0x30, 'CKR_DEVICE_ERROR'],
  [0x31, 'CKR_DEVICE_MEMORY'], [0x32, 'CKR_DEVICE_REMOVED'], [0x60, 'CKR_KEY_HANDLE_INVALID'],
  [0x63, 'CKR_KEY_TYPE_INCONSISTENT'], [0x68, 'CKR_KEY_FUNCTION_NOT_PERMITTED'], [0x6a, 'CKR_KEY_UNEXTRACTABLE'],
  [0x70, 'CKR_MECHANISM_INVALID'], [0x71, 'CKR_MECHANISM_PARAM_INVALID'], [0x82, 'CKR_OBJECT_HANDLE_INVALID'],
  [0x90, 'CKR_OPERATION_ACTIVE'], [0x91, 'CKR_OPERATION_NOT_INITIALIZED'], [0xa0, 'CKR_PIN_INCORRECT'],
  [0xa4, 'CKR_PIN_LOCKED'], [0xb0, 'CKR_SESSION_CLOSED'], [0xb3, 'CKR_SESSION_HANDLE_INVALID'],
  [0xb5, 'CKR_SESSION_READ_ONLY'], [0xd0, 'CKR_TEMPLATE_INCOMPLETE'], [0xd1, 'CKR_TEMPLATE_INCONSISTENT'],
  [0xe0, 'CKR_TOKEN_NOT_PRESENT'], [0xe1, 'CKR_TOKEN_NOT_RECOGNIZED'], [0x100, 'CKR_USER_ALREADY_LOGGED_IN'],
  [0x101, 'CKR_USER_NOT_LOGGED_IN'], [0x102, 'CKR_USER_PIN_NOT_INITIALIZED'], [0x150, 'CKR_BUFFER_TOO_SMALL'],
  [0x190, 'CKR_CRYPTOKI_NOT_INITIALIZED'], [0x191, 'CKR_CRYPTOKI_ALREADY_INITIALIZED'],
]);

/** Results after which the same call may succeed on a new session or device (retry). */
const RETRYABLE = new Set([0x30, 0x31, 0x32, 0xb0, 0xb3, 0xe0, 0x05, 0x06]);

export const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;
export const CKR_USER_ALREADY_LOGGED_IN = 0x100;

export function ckrName(code: number): string {
  return CKR_NAMES.get(code) ?? `CKR 0x${code.toString(16)}`;
}

/**
 * A PKCS#11 call failed: `C_Sign (slot 0): CKR_KEY_HANDLE_INVALID`. `retryable` tells a lost
 * session or device (try again) from a wrong PIN or a missing key (stop).
 */
export class HsmError extends SignerError {
  readonly ckr: number | undefined;
  readonly retryable: boolean;

  constructor(fn: string, where: string, ckr: number | undefined, detail?: string, cause?: unknown) {
    const what = ckr === undefined ? (detail ?? 'failed') : ckrName(ckr);
    super('HSM', `${fn} (${where}): ${what}${ckr !== undefined && detail !== undefined ? ` (${detail})` : ''}`, {
      details: { function: fn, where, ...(ckr === undefined ? {} : { ckr: ckrName(ckr) }) },
      cause,
    });
    this.ckr = ckr;
    this.retryable = ckr !== undefined && RETRYABLE.has(ckr);
  }
}

/** Runs a PKCS#11 call and turns its failure into an HsmError naming the function. */
export function pkcs11Call<T>(fn: string, where: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    throw toHsmError(fn, where, e);
  }
}

export function toHsmError(fn: string, where: string, e: unknown): HsmError {
  if (e instanceof HsmError) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'number' && code !== 0) return new HsmError(fn, where, code, undefined, e);
  return new HsmError(fn, where, undefined, e instanceof Error ? e.message : String(e), e);
}
