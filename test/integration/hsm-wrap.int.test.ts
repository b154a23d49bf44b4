import { createECDH } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { generateKey, importKey, type HsmKey } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * Issue 18 part 1, the HSM part of a backup: "a PKCS#11 key wrap under a key-encryption key
 * where the HSM allows it". hms makes (and imports) every private key with CKA_SENSITIVE true
 * and CKA_EXTRACTABLE false (DP-3.1f), so no token lets it out, wrapped or not: C_WrapKey is
 * refused with CKR_KEY_UNEXTRACTABLE, and the attribute cannot be turned back on. This is why
 * the backup copies SoftHSM's (encrypted) token files, or names the vendor's own backup
 * (docs/operations.md), and never wraps. An extractable key wrapped under the same KEK shows
 * that the KEK and the mechanism work: the refusal is the key's.
 */
const zone = Name.parse('example.com.');
let hsm: ReturnType<typeof throwawayToken>;
let token: Token;

/** CKM_AES_KEY_WRAP_PAD (RFC 5649, PKCS#11 2.40), which wraps a private key of any length. */
const CKM_AES_KEY_WRAP_PAD = 0x210a;

beforeAll(() => {
  hsm = throwawayToken('hms-wrap');
  token = Token.open({ label: 'hms-wrap', pin: hsm.pin });
});
afterAll(async () => {
  await token?.close();
  hsm?.dispose();
});

/** A key-encryption key in the session: AES-256, for wrapping. */
function kek(): Buffer {
  return token.pkcs11.C_GenerateKey(token.control, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, [
    { type: pkcs11js.CKA_TOKEN, value: false },
    { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
    { type: pkcs11js.CKA_WRAP, value: true },
    { type: pkcs11js.CKA_ENCRYPT, value: false },
  ]);
}

const wrap = (key: Buffer): Buffer => token.pkcs11.C_WrapKey(token.control, { mechanism: CKM_AES_KEY_WRAP_PAD }, kek(), key, Buffer.alloc(8192));

describe('the private keys hms holds cannot be wrapped out of the token', () => {
  it('DP-2.5d DP-3.1f C_WrapKey of every key hms makes or imports is refused with CKR_KEY_UNEXTRACTABLE; CKA_EXTRACTABLE cannot be set back to true', () => {
    const keys: HsmKey[] = [
      generateKey(token, zone, 'ksk', { algorithm: Algorithm.RSASHA256, bits: 2048 }),
      generateKey(token, zone, 'zsk', { algorithm: Algorithm.ECDSAP256SHA256 }),
      generateKey(token, zone, 'zsk', { algorithm: Algorithm.ED25519 }),
      generateKey(token, zone, 'zsk', { algorithm: Algorithm.ECDSAP384SHA384 }),
      generateKey(token, zone, 'zsk', { algorithm: Algorithm.ED448 }),
    ];
    // hms key import's copy of a key made outside the token
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    keys.push(
      importKey(
        token,
        zone,
        'zsk',
        Algorithm.ECDSAP256SHA256,
        { kind: 'ec', privateKey: ecdh.getPrivateKey(), publicKey: ecdh.getPublicKey() },
        Buffer.from('77aa01', 'hex'),
      ),
    );
    for (const k of keys) {
      const [sensitive, extractable] = token.pkcs11.C_GetAttributeValue(token.control, k.privateKey, [
        { type: pkcs11js.CKA_SENSITIVE },
        { type: pkcs11js.CKA_EXTRACTABLE },
      ]);
      expect([k.algorithm, sensitive!.value[0], extractable!.value[0]]).toEqual([k.algorithm, 1, 0]);
      expect(() => wrap(k.privateKey), `algorithm ${k.algorithm}`).toThrow(/CKR_KEY_UNEXTRACTABLE/);
      // PKCS#11: CKA_EXTRACTABLE may go from true to false, never back
      expect(() => token.pkcs11.C_SetAttributeValue(token.control, k.privateKey, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }])).toThrow(
        /CKR_ATTRIBUTE_READ_ONLY/,
      );
    }
  });

  it('DP-2.5d the same KEK and mechanism wrap an extractable key: the refusal above is the key attribute, not the token', () => {
    const pair = token.pkcs11.C_GenerateKeyPair(
      token.control,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_SIGN, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
        { type: pkcs11js.CKA_EXTRACTABLE, value: true },
      ],
    );
    expect(wrap(pair.privateKey).length).toBeGreaterThan(32);
  });
});
