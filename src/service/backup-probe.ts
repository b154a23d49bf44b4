import { findKeys } from '../hsm/keys.js';
import { Token } from '../hsm/token.js';

/**
 * A child of `hms backup verify`: opens the token copy that SOFTHSM2_CONF points to (SoftHSM
 * reads its configuration once per process) with the PIN from HMS_BACKUP_PIN, and prints the
 * CKA_IDs (hex) of the hms keys in it as JSON. Arguments: the token label, the module.
 */
const [label, module] = process.argv.slice(2);
const pin = process.env.HMS_BACKUP_PIN ?? '';
try {
  const token = Token.open({ label: label!, pin, ...(module === undefined ? {} : { module }) });
  try {
    process.stdout.write(JSON.stringify(findKeys(token).map((k) => k.id.toString('hex'))));
  } finally {
    await token.close();
  }
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
