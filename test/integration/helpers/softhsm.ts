import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Name } from '../../../src/dns/name.js';
import type { KeyRole } from '../../../src/dnssec/signer.js';
import { generateKey, type HsmKey } from '../../../src/hsm/keys.js';
import { initToken } from '../../../src/hsm/token-init.js';
import { Token } from '../../../src/hsm/token.js';

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

/**
 * A throwaway token with its PIN in `pin` (mode 0600) and the policy file `fast.yaml`: the DP
 * policy with waiting times of seconds (`fast`), and the same with a parent DS TTL of 15 s
 * (`slow-parent`), long enough to act before it passes.
 */
export function tokenWithFastPolicies(label: string): ReturnType<typeof throwawayToken> {
  const hsm = throwawayToken(label);
  writeFileSync(join(hsm.dir, 'pin'), hsm.pin, { mode: 0o600 });
  const policy = (name: string, description: string, dsTtl: string): string => `  ${name}:
    description: ${description}
    ttl: { dnskey: 1s, nsec3param: 1s }
    soa: { minimum: 300 }
    zone: { propagation-delay: 0, publish-safety: 0, retire-safety: 0 }
    parent: { propagation-delay: 0, ds-ttl: ${dsTtl}, publish-safety: 0, retire-safety: 0 }
`;
  writeFileSync(
    join(hsm.dir, 'fast.yaml'),
    `policies:\n${policy('fast', 'the DP policy with waiting times of seconds, for tests', '1s')}${policy('slow-parent', 'as fast, with a parent DS TTL of 15 s, long enough to act before it passes on a loaded machine', '15s')}`,
  );
  return hsm;
}

/**
 * An orphan, as a key made by hand or by an hms that made keys before recording them (killed
 * in between) leaves: a key in the token under the zone's label (RSASHA256), recorded nowhere,
 * not even as pending. The token must not be open in this process.
 */
export async function unrecordedKey(label: string, pin: string, zone: string, role: KeyRole): Promise<HsmKey> {
  const token = Token.open({ label, pin });
  try {
    return generateKey(token, Name.parse(zone), role, { algorithm: 8, bits: role === 'zsk' ? 1024 : 2048 });
  } finally {
    await token.close();
  }
}
