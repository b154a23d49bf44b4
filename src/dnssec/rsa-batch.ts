import { hash } from 'node:crypto';
import { nativeAddon, type NativeAddon, type NativeProduct } from '../common/native-addon.js';
import { Algorithm } from './algorithms.js';
import { rsaPublicKey } from './verify-signature.js';

/**
 * RSASSA-PKCS1-v1_5 signatures by one RSA key checked many at a time (RFC 8017 section 8.2.2,
 * RFC 5702 for DNSSEC), for the zone verifier: a zone signed with one ZSK carries as many
 * signatures as names, and one check each (`crypto.verify`, about 13 µs for RSA-1024 here)
 * came to half the main thread's work while signing.
 *
 * A signature s is good when s^e mod n equals EM, the padded digest of the signed data. For a
 * batch, the screening test of Bellare, Garay and Rabin ("Fast batch verification for modular
 * exponentiation and digital signatures", 1998): (s_1 · … · s_k)^e ≡ EM_1 · … · EM_k (mod n).
 * Two multiplications modulo n per signature and one exponentiation per batch. The two
 * multiplications are made by the native addon (native/rsa_product.c, Montgomery
 * multiplication) when it is built, else with BigInt: with the digest and the batch's
 * exponentiation, 3.3-3.9 µs a signature against 6.7-7.8 µs (RSA-1024, 30,000 signatures,
 * the two taking turns in one process; this host's speed varies by half from one minute to
 * the next). Every good signature passes it; one bad signature always fails it (s^e is a
 * permutation modulo n); several bad ones pass only if their errors cancel exactly, which
 * takes signatures made for that purpose, not faults or bugs. When a batch fails, each of its
 * signatures is checked alone, so that the bad ones are named.
 *
 * Each signature is also checked on its own for what the product would hide: its length is
 * the modulus's (RFC 8017 step 1) and its value below the modulus (RSAVP1 step 1).
 */
export class RsaBatchVerifier<T> {
  /** What was added since the last check: kept so that a failed batch is checked one by one. */
  private readonly pending: { readonly signature: Uint8Array; readonly digest: string; readonly tag: T }[] = [];
  private product = 1n;
  private padded = 1n;
  /** R^(m(e-1)) mod n for a full batch of the addon (see check). */
  private fullBatchFactor: bigint | undefined;

  private constructor(
    private readonly n: bigint,
    private readonly e: bigint,
    private readonly length: number,
    private readonly hashName: string,
    /** EM with a digest of zeros, as a number: EM = emBase + digest. */
    private readonly emBase: bigint,
    private readonly batch: number,
    /** The addon's product for this key, or undefined: the products are then made here with BigInt. */
    private readonly native: { readonly addon: NativeAddon; readonly product: NativeProduct; readonly r: bigint } | undefined,
  ) {}

  /**
   * For a DNSKEY (RDATA) of RSASHA256 or RSASHA512 (RFC 3110 key layout); undefined for any
   * other algorithm, or a key whose modulus is too short for the digest. `native: false`
   * makes the products with BigInt even when the addon is there (for tests).
   */
  static forDnskey<T>(dnskeyRdata: Uint8Array, batch = 64, options: { readonly native?: boolean } = {}): RsaBatchVerifier<T> | undefined {
    const algorithm = dnskeyRdata[3];
    const spec = algorithm === Algorithm.RSASHA256 ? SHA256 : algorithm === Algorithm.RSASHA512 ? SHA512 : undefined;
    if (spec === undefined) return undefined;
    const key = rsaPublicKey(dnskeyRdata);
    const e = toBigInt(key.e);
    let modulus = key.n;
    while (modulus.length > 0 && modulus[0] === 0) modulus = modulus.subarray(1);
    const k = modulus.length;
    const tLength = spec.prefix.length + spec.hashLength;
    if (e === 0n || k < tLength + 11) return undefined;
    // EM = 0x00 0x01 PS 0x00 DigestInfo(prefix, digest), PS: k - tLength - 3 octets of 0xff
    const em = new Uint8Array(k);
    em[1] = 1;
    em.fill(0xff, 2, k - tLength - 1);
    em.set(spec.prefix, k - tLength);
    const n = toBigInt(modulus);
    return new RsaBatchVerifier<T>(
      n,
      e,
      k,
      spec.hash,
      toBigInt(em),
      batch,
      options.native === false ? undefined : nativeProduct(modulus, em, spec.hashLength, n),
    );
  }

  /**
   * Adds a signature over `data`. False: it cannot be good (wrong length, or not below the
   * modulus) and is not added. A full batch is checked at once; `failed` gets the tags of its
   * bad signatures, in the order they were added. The signature's octets are read again if
   * its batch fails: they must not change until then (the verifier passes record RDATA).
   */
  add(data: Uint8Array, signature: Uint8Array, tag: T, failed: (tag: T) => void): boolean {
    const digest = hash(this.hashName, data, 'hex');
    if (this.native !== undefined) {
      if (!this.native.addon.add(this.native.product, signature, digest)) return false;
    } else {
      if (signature.length !== this.length) return false;
      const s = toBigInt(signature);
      if (s >= this.n) return false;
      this.product = (this.product * s) % this.n;
      this.padded = (this.padded * (this.emBase + BigInt(`0x${digest}`))) % this.n;
    }
    this.pending.push({ signature, digest, tag });
    if (this.pending.length >= this.batch) this.check(failed);
    return true;
  }

  /** Checks the signatures added since the last check (see `add`). */
  check(failed: (tag: T) => void): void {
    if (this.pending.length === 0) return;
    let good: boolean;
    if (this.native !== undefined) {
      // the addon's products carry R^-m: S R^-m and E R^-m, so S^e = E is (S R^-m)^e R^(m(e-1)) = E R^-m
      const { s, e, count } = this.native.addon.take(this.native.product);
      let factor = count === this.batch ? this.fullBatchFactor : undefined;
      if (factor === undefined) {
        factor = modPow(this.native.r, BigInt(count) * (this.e - 1n), this.n);
        if (count === this.batch) this.fullBatchFactor = factor;
      }
      good = (modPow(toBigInt(s), this.e, this.n) * factor) % this.n === toBigInt(e);
    } else {
      good = modPow(this.product, this.e, this.n) === this.padded;
    }
    if (!good) {
      for (const p of this.pending) {
        if (modPow(toBigInt(p.signature), this.e, this.n) !== this.emBase + BigInt(`0x${p.digest}`)) failed(p.tag);
      }
    }
    this.pending.length = 0;
    this.product = 1n;
    this.padded = 1n;
  }
}

/** The addon's product for a modulus, and R mod n; undefined without the addon or for a modulus it does not take. */
function nativeProduct(
  modulus: Uint8Array,
  em: Uint8Array,
  digestLength: number,
  n: bigint,
): { addon: NativeAddon; product: NativeProduct; r: bigint } | undefined {
  const addon = nativeAddon();
  // the addon works in 64-bit limbs up to 4096 bits, on an odd modulus (Montgomery multiplication)
  if (addon === undefined || modulus.length > 512 || (n & 1n) === 0n) return undefined;
  return { addon, product: addon.create(modulus, em, digestLength), r: (1n << BigInt(64 * Math.ceil(modulus.length / 8))) % n };
}

const SHA256 = { hash: 'sha256', hashLength: 32, prefix: Uint8Array.from(Buffer.from('3031300d060960864801650304020105000420', 'hex')) };
const SHA512 = { hash: 'sha512', hashLength: 64, prefix: Uint8Array.from(Buffer.from('3051300d060960864801650304020305000440', 'hex')) };

function toBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  return BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);
}

/** base^exponent mod m, left to right (e is 65537 in practice: 16 squarings, 1 multiplication). */
function modPow(base: bigint, exponent: bigint, m: bigint): bigint {
  let result = 1n;
  const b = base % m;
  for (let bit = BigInt(exponent.toString(2).length - 1); bit >= 0n; bit--) {
    result = (result * result) % m;
    if ((exponent >> bit) & 1n) result = (result * b) % m;
  }
  return result;
}
