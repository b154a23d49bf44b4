/**
 * What the zone signer needs of a key: its public half as a DNSKEY and a way to sign. The HSM
 * module makes these from PKCS#11 objects; tests make them from node:crypto keys. The signer
 * never sees PKCS#11.
 */
export interface Signer {
  /** DNSKEY RDATA: flags, protocol 3, algorithm, public key. */
  readonly dnskey: Uint8Array;
  readonly algorithm: number;
  readonly keyTag: number;
  /**
   * Signs the RRSIG signing input; the result is the RRSIG signature field. `data` is read
   * before this returns: the signer reuses its buffer for the next input.
   */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /**
   * As sign, without a promise for each signature (a zone has one signature or more for each
   * of its RRsets): the signature goes to `sink.signed(slot, signature)`, or the error to
   * `sink.failed`, always after this returns. Signers that lack it are used through `sign`.
   */
  signTo?(data: Uint8Array, sink: SignatureSink, slot: number): void;
  /** Frees what the signer holds in the HSM (its session copies of the key); it signs no more. */
  release?(): void;
}

/** Where Signer.signTo delivers: `slot` is the caller's, given back with the signature. */
export interface SignatureSink {
  signed(slot: number, signature: Uint8Array): void;
  failed(error: unknown): void;
}

/** What a key signs in a zone: the DNSKEY RRset (KSK), everything else (ZSK), or both (CSK). */
export type KeyRole = 'ksk' | 'zsk' | 'csk';

export interface SigningKey {
  readonly signer: Signer;
  readonly role: KeyRole;
}

/**
 * DNSKEY flags (RFC 4034 section 2.1.1, RFC 5011): zone key 256, plus SEP 1 for a KSK or a
 * CSK (as Knot and BIND's dnssec-policy do). Note: dnssec-verify without -z reports a zone
 * signed by a CSK alone as missing a ZSK.
 */
export function dnskeyFlags(role: KeyRole): number {
  return role === 'zsk' ? 256 : 257;
}
