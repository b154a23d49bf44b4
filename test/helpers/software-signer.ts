import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { ByteWriter } from '../../src/dns/bytes.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { keyTag } from '../../src/dnssec/key-tag.js';
import { dnskeyFlags, type KeyRole, type SignatureSink, type Signer, type SigningKey } from '../../src/dnssec/signer.js';

/**
 * Signers from node:crypto keys, for tests only (STYLE: the software store is kept for tests;
 * hms itself signs only in the HSM).
 */
export function softwareKey(algorithm: number, role: KeyRole, bits = role === 'zsk' ? 1024 : 2048): SigningKey {
  let privateKey: KeyObject;
  let publicKey: Uint8Array;
  if (algorithm === Algorithm.RSASHA256 || algorithm === Algorithm.RSASHA512) {
    const pair = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 65537 });
    privateKey = pair.privateKey;
    const jwk = pair.publicKey.export({ format: 'jwk' });
    const e = Buffer.from(jwk.e!, 'base64url');
    const n = Buffer.from(jwk.n!, 'base64url');
    publicKey = Buffer.concat([Uint8Array.of(e.length), e, n]);
  } else if (algorithm === Algorithm.ECDSAP256SHA256) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    privateKey = pair.privateKey;
    const jwk = pair.publicKey.export({ format: 'jwk' });
    publicKey = Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  } else if (algorithm === Algorithm.ED25519) {
    const pair = generateKeyPairSync('ed25519');
    privateKey = pair.privateKey;
    publicKey = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  } else {
    throw new Error(`no software key for algorithm ${algorithm}`);
  }
  const w = new ByteWriter(4 + publicKey.length);
  w.u16(dnskeyFlags(role));
  w.u8(3);
  w.u8(algorithm);
  w.bytes(publicKey);
  const dnskey = w.finish();
  const hash = algorithm === Algorithm.RSASHA256 || algorithm === Algorithm.ECDSAP256SHA256 ? 'sha256' : algorithm === Algorithm.RSASHA512 ? 'sha512' : null;
  const signer: Signer = {
    dnskey,
    algorithm,
    keyTag: keyTag(dnskey),
    sign: (data) =>
      Promise.resolve(
        algorithm === Algorithm.ECDSAP256SHA256 ? cryptoSign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' }) : cryptoSign(hash, data, privateKey),
      ),
  };
  return { signer, role };
}

/**
 * `base` with signTo (as the HSM's signing threads have it), counting what it is asked;
 * `hold` keeps the answers until `answer()`, `failFirst` fails that many.
 */
export function threadedKey(
  base: SigningKey,
  options: { hold?: boolean; failFirst?: number } = {},
): { key: SigningKey; calls: () => number; answer: () => Promise<void> } {
  let calls = 0;
  let fail = options.failFirst ?? 0;
  const held: (() => void)[] = [];
  const key: SigningKey = {
    role: base.role,
    signer: {
      dnskey: base.signer.dnskey,
      algorithm: base.signer.algorithm,
      keyTag: base.signer.keyTag,
      sign: (data) => base.signer.sign(data),
      signTo: (data: Uint8Array, sink: SignatureSink, slot: number) => {
        calls++;
        const copy = Uint8Array.from(data);
        const failing = fail-- > 0;
        const reply = (): void => {
          if (failing) sink.failed(new Error('CKR_DEVICE_ERROR'));
          else
            base.signer.sign(copy).then(
              (s) => sink.signed(slot, s),
              (e: unknown) => sink.failed(e),
            );
        };
        if (options.hold === true) held.push(reply);
        else setImmediate(reply);
      },
    },
  };
  return {
    key,
    calls: () => calls,
    answer: async () => {
      for (const reply of held.splice(0)) reply();
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}
