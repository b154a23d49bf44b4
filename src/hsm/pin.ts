import { readFileSync, statSync } from 'node:fs';
import { SignerError } from '../common/errors.js';

/**
 * The HSM user PIN (DP-3.1b): from the environment variable, or from a file that only its
 * owner can read (a group- or world-readable file is refused). Never from argv, never logged:
 * errors name the source, not the PIN.
 */
export function readPin(options: { readonly env?: string; readonly file?: string }): string {
  if (options.file !== undefined) {
    let mode: number;
    try {
      mode = statSync(options.file).mode;
    } catch (e) {
      throw new SignerError('HSM', `PIN file ${options.file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if ((mode & 0o077) !== 0) {
      throw new SignerError('HSM', `PIN file ${options.file} is readable by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it (DP-3.1b)`);
    }
    const pin = readFileSync(options.file, 'utf8').replace(/\r?\n$/, '');
    if (pin.length === 0) throw new SignerError('HSM', `PIN file ${options.file} is empty`);
    return pin;
  }
  const name = options.env ?? 'HMS_PIN';
  const pin = process.env[name];
  if (pin === undefined || pin === '') throw new SignerError('HSM', `no HSM PIN: set ${name} or give a PIN file`);
  return pin;
}
