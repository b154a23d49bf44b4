import pkcs11js from 'pkcs11js';
import { HsmError, pkcs11Call } from './errors.js';
import { loadModule, releaseModule, tokenLabel } from './token.js';

/**
 * Initialises a token in a free slot (C_InitToken, then C_InitPIN as the SO), for the
 * development token and for tests' throwaway tokens. Returns false when a token with the
 * label is there already (it is left alone). The PINs come from the caller, never from argv.
 */
export function initToken(options: { readonly module?: string; readonly label: string; readonly soPin: string; readonly pin: string }): boolean {
  const { pkcs11, modulePath } = loadModule(options.module);
  try {
    const infos = pkcs11Call('C_GetSlotList', modulePath, () => pkcs11.C_GetSlotList(true))
      .map((slot) => ({ slot, info: pkcs11Call('C_GetTokenInfo', modulePath, () => pkcs11.C_GetTokenInfo(slot)) }));
    const initialised = (flags: number): boolean => (flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0;
    if (infos.some(({ info }) => initialised(info.flags) && tokenLabel(info.label) === options.label)) return false;
    const free = infos.find(({ info }) => !initialised(info.flags));
    if (free === undefined) throw new HsmError('C_InitToken', modulePath, undefined, 'no free slot');
    pkcs11Call('C_InitToken', modulePath, () => pkcs11.C_InitToken(free.slot, options.soPin, options.label.padEnd(32, ' ')));
    // SoftHSM moves the new token to a new slot: find it again by label
    const slot = pkcs11Call('C_GetSlotList', modulePath, () => pkcs11.C_GetSlotList(true))
      .find((s) => tokenLabel(pkcs11.C_GetTokenInfo(s).label) === options.label);
    if (slot === undefined) throw new HsmError('C_InitToken', modulePath, undefined, `token '${options.label}' not found after initialising it`);
    const where = `token ${options.label}`;
    const session = pkcs11Call('C_OpenSession', where, () => pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
    pkcs11Call('C_Login', where, () => pkcs11.C_Login(session, pkcs11js.CKU_SO, options.soPin));
    pkcs11Call('C_InitPIN', where, () => pkcs11.C_InitPIN(session, options.pin));
    pkcs11Call('C_Logout', where, () => pkcs11.C_Logout(session));
    pkcs11Call('C_CloseSession', where, () => pkcs11.C_CloseSession(session));
    return true;
  } finally {
    releaseModule(modulePath);
  }
}
