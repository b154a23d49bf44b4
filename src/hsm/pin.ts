import { MAX_SECRET_OCTETS, readRegularTextFile } from '../files/regular-file.js';
import { SignerError } from '../common/errors.js';

/**
 * The HSM user PIN (DP-3.1b): from the environment variable, or from a file that only its
 * owner can read (a group- or world-readable file is refused). Never from argv, never logged:
 * errors name the source, not the PIN.
 */
export function readPin(options: { readonly env?: string; readonly file?: string }): string {
  if (options.file !== undefined) {
    const file = options.file;
    let text: string;
    try {
      // a regular file of one short line only: never a FIFO or a device, never read whole if large
      text = readRegularTextFile(file, 'PIN file', MAX_SECRET_OCTETS, ({ mode }) => {
        if ((mode & 0o077) !== 0) {
          throw new SignerError('HSM', `PIN file ${file} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it (DP-3.1b)`);
        }
      });
    } catch (e) {
      if (e instanceof SignerError && e.code === 'IO') throw new SignerError('HSM', e.message, { cause: e });
      throw e;
    }
    const pin = text.replace(/\r?\n$/, '');
    if (pin.length === 0) throw new SignerError('HSM', `PIN file ${options.file} is empty`);
    return pin;
  }
  const name = options.env ?? 'HMS_PIN';
  const pin = process.env[name];
  if (pin === undefined || pin === '') throw new SignerError('HSM', `no HSM PIN: set ${name} or give a PIN file`);
  return pin;
}
