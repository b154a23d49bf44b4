import { generateKeyPairSync, randomBytes, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Algorithm } from './algorithms.js';
import { nativeAddon, nativeAddonError } from '../common/native-addon.js';
import { RsaBatchVerifier } from './rsa-batch.js';

function rsaKey(bits: number, publicExponent = 65537): { privateKey: KeyObject; publicKey: KeyObject; dnskey: (algorithm: number) => Uint8Array; n: bigint } {
  const pair = generateKeyPairSync('rsa', { modulusLength: bits, publicExponent });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const e = Buffer.from(jwk.e!, 'base64url');
  const n = Buffer.from(jwk.n!, 'base64url');
  return {
    ...pair,
    n: BigInt(`0x${n.toString('hex')}`),
    // DNSKEY RDATA: flags 256, protocol 3, algorithm, RFC 3110 key
    dnskey: (algorithm) => Uint8Array.from(Buffer.concat([Uint8Array.of(1, 0, 3, algorithm, e.length), e, n])),
  };
}

const k1024 = rsaKey(1024);
const k2048 = rsaKey(2048, 3);
// a modulus of 1032 bits: 129 octets, its top 64-bit limb only partly used
const k1032 = rsaKey(1032);
const k4096 = rsaKey(4096);

function run(v: RsaBatchVerifier<number>, items: readonly { data: Uint8Array; sig: Uint8Array }[]): { failed: number[]; refused: number[] } {
  const failed: number[] = [];
  const refused: number[] = [];
  items.forEach((it, i) => {
    if (!v.add(it.data, it.sig, i, (t) => failed.push(t))) refused.push(i);
  });
  v.check((t) => failed.push(t));
  return { failed, refused };
}

describe('the native addon (native/rsa_product.c)', () => {
  it('is built here: npm ci builds it with node-gyp, as it builds pkcs11js', () => {
    expect(nativeAddonError()).toBeUndefined();
    expect(nativeAddon()).toBeDefined();
  });

  it('refuses a modulus it cannot take, with a clear error (even, a leading zero, over 4096 bits, EM not below it)', () => {
    const addon = nativeAddon()!;
    const em = (k: number): Uint8Array => Uint8Array.from({ length: k }, (_, i) => (i === 1 ? 1 : 0));
    const odd = Uint8Array.from(randomBytes(128), (b, i) => (i === 0 ? b | 0x80 : i === 127 ? b | 1 : b));
    expect(() =>
      addon.create(
        odd.map((b, i) => (i === 127 ? b & 0xfe : b)),
        em(128),
        32,
      ),
    ).toThrow(/odd/);
    expect(() => addon.create(Uint8Array.of(0, ...odd.subarray(1)), em(128), 32)).toThrow(/leading zeros/);
    expect(() => addon.create(new Uint8Array(513).fill(0xff), em(513), 32)).toThrow(/4096 bits/);
    expect(() => addon.create(Uint8Array.of(0x01, ...odd.subarray(1)), Uint8Array.of(0x01, 0xff, ...new Uint8Array(126)), 32)).toThrow(/below the modulus/);
    expect(() => addon.add(addon.create(odd, em(128), 32), new Uint8Array(128), 'zz'.repeat(32))).toThrow(/hex/);
  });

  it('multiplies as BigInt does: its products, with R^-m taken out, are the products modulo n (1024, 1032 and 4096 bits)', () => {
    const addon = nativeAddon()!;
    for (const key of [k1024, k1032, k4096]) {
      const k = (key.n.toString(16).length + 1) >> 1;
      const bytes = (x: bigint): Uint8Array => Uint8Array.from(Buffer.from(x.toString(16).padStart(2 * k, '0'), 'hex'));
      const template = (key.n >> 300n) << 256n;
      const product = addon.create(bytes(key.n), bytes(template), 32);
      let s = 1n;
      let e = 1n;
      const m = 20;
      for (let i = 0; i < m; i++) {
        const x = BigInt(`0x${randomBytes(k).toString('hex')}`) % key.n;
        const digest = randomBytes(32).toString('hex');
        expect(addon.add(product, bytes(x), digest)).toBe(true);
        s = (s * x) % key.n;
        e = (e * (template + BigInt(`0x${digest}`))) % key.n;
      }
      expect(addon.add(product, bytes(key.n), '00'.repeat(32))).toBe(false);
      expect(addon.add(product, bytes(key.n).subarray(1), '00'.repeat(32))).toBe(false);
      const taken = addon.take(product);
      const rm = modPowPlain((1n << BigInt(64 * Math.ceil(k / 8))) % key.n, BigInt(m), key.n);
      expect(taken.count).toBe(m);
      expect((BigInt(`0x${Buffer.from(taken.s).toString('hex')}`) * rm) % key.n).toBe(s);
      expect((BigInt(`0x${Buffer.from(taken.e).toString('hex')}`) * rm) % key.n).toBe(e);
      expect(addon.take(product).count).toBe(0);
    }
  });
});

describe.each([
  ['with the native addon', true],
  ['with BigInt only', false],
])('RsaBatchVerifier: RSA signatures checked a batch at a time (the zone verifier), %s', (_, native) => {
  it('passes good RSASHA256 and RSASHA512 signatures, in full batches and a partial one', () => {
    for (const [key, algorithm, hash] of [
      [k1024, Algorithm.RSASHA256, 'sha256'],
      [k2048, Algorithm.RSASHA512, 'sha512'],
      [k1032, Algorithm.RSASHA256, 'sha256'],
      [k4096, Algorithm.RSASHA256, 'sha256'],
    ] as const) {
      const items = Array.from({ length: 150 }, () => {
        const data = randomBytes(40 + Math.floor(Math.random() * 200));
        return { data, sig: cryptoSign(hash, data, key.privateKey) };
      });
      expect(run(RsaBatchVerifier.forDnskey<number>(key.dnskey(algorithm), 64, { native })!, items)).toEqual({ failed: [], refused: [] });
    }
  });

  it('names exactly the signatures crypto.verify rejects, wherever they are in a batch (property)', () => {
    const data = Array.from({ length: 100 }, () => randomBytes(100));
    const sigs = data.map((d) => cryptoSign('sha256', d, k1024.privateKey));
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(99), { maxLength: 6 }), fc.nat(127), fc.integer({ min: 1, max: 255 }), fc.boolean(), (bad, at, xor, onData) => {
        const items = data.map((d, i) => {
          if (!bad.includes(i)) return { data: d, sig: sigs[i]! };
          const changed = Uint8Array.from(onData ? d : sigs[i]!);
          changed[at % changed.length]! ^= xor;
          return onData ? { data: changed, sig: sigs[i]! } : { data: d, sig: changed };
        });
        const expected = items.map((it, i) => (cryptoVerify('sha256', it.data, k1024.publicKey, it.sig) ? -1 : i)).filter((i) => i >= 0);
        const { failed, refused } = run(RsaBatchVerifier.forDnskey<number>(k1024.dnskey(Algorithm.RSASHA256), 16, { native })!, items);
        expect([...failed, ...refused].sort((a, b) => a - b)).toEqual(expected);
        expect(expected.length).toBe(bad.length);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a signature of the wrong length or not below the modulus (RFC 8017 section 8.2.2 step 1, RSAVP1)', () => {
    const data = randomBytes(50);
    const good = cryptoSign('sha256', data, k1024.privateKey);
    const nBytes = Buffer.from(k1024.n.toString(16).padStart(256, '0'), 'hex');
    const v = RsaBatchVerifier.forDnskey<number>(k1024.dnskey(Algorithm.RSASHA256), 64, { native })!;
    expect(
      run(v, [
        { data, sig: good.subarray(1) },
        { data, sig: Buffer.concat([Uint8Array.of(0), good]) },
        { data, sig: nBytes },
        { data, sig: good },
      ]),
    ).toEqual({ failed: [], refused: [0, 1, 2] });
  });

  it('is not made for other algorithms', () => {
    expect(RsaBatchVerifier.forDnskey(Uint8Array.of(1, 0, 3, Algorithm.ECDSAP256SHA256, ...randomBytes(64)))).toBeUndefined();
    expect(RsaBatchVerifier.forDnskey(Uint8Array.of(1, 0, 3, 5, 3, 1, 0, 1, ...randomBytes(128)))).toBeUndefined();
  });

  it('does not claim what screening cannot give: two signatures made so that their errors cancel pass together, and fail alone', () => {
    // s1·u and s2·u⁻¹ (mod n): the product is unchanged. Faults and bugs do not do this; a
    // signer that wanted a bad zone published would not need to. The validators in the tests
    // (dnssec-verify, ldns-verify-zone, kzonecheck) check every signature alone.
    const d1 = randomBytes(60);
    const d2 = randomBytes(60);
    const s1 = BigInt(`0x${cryptoSign('sha256', d1, k1024.privateKey).toString('hex')}`);
    const s2 = BigInt(`0x${cryptoSign('sha256', d2, k1024.privateKey).toString('hex')}`);
    const n = k1024.n;
    const u = 12345678901234567890n;
    const uInverse = modInverse(u, n);
    const bytes = (x: bigint): Buffer => Buffer.from(x.toString(16).padStart(256, '0'), 'hex');
    const items = [
      { data: d1, sig: bytes((s1 * u) % n) },
      { data: d2, sig: bytes((s2 * uInverse) % n) },
    ];
    expect(run(RsaBatchVerifier.forDnskey<number>(k1024.dnskey(Algorithm.RSASHA256), 64, { native })!, items).failed).toEqual([]);
    expect(run(RsaBatchVerifier.forDnskey<number>(k1024.dnskey(Algorithm.RSASHA256), 1, { native })!, items).failed).toEqual([0, 1]);
  });
});

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, t0, t1] = [m, a % m, 0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, t0, t1] = [r1, r0 - q * r1, t1, t0 - q * t1];
  }
  return ((t0 % m) + m) % m;
}

function modPowPlain(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  let b = base % m;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}
