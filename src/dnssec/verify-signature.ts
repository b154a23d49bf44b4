import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { SignerError } from '../common/errors.js';
import { Algorithm } from './algorithms.js';

const b64url = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

/**
 * A public key from DNSKEY RDATA, for verification with node:crypto: RSA (RFC 3110 layout),
 * ECDSA P-256/P-384 (RFC 6605: x|y), Ed25519/Ed448 (RFC 8080: the raw key).
 */
export function publicKeyFromDnskey(dnskeyRdata: Uint8Array): KeyObject {
  const algorithm = dnskeyRdata[3]!;
  const key = dnskeyRdata.subarray(4);
  switch (algorithm) {
    case Algorithm.RSASHA256:
    case Algorithm.RSASHA512: {
      const { e, n } = rsaPublicKey(dnskeyRdata);
      if (e.length === 0 || n.length === 0) throw new SignerError('DNSSEC', 'DNSKEY: RSA public key is truncated');
      return createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' });
    }
    case Algorithm.ECDSAP256SHA256:
    case Algorithm.ECDSAP384SHA384: {
      const size = algorithm === Algorithm.ECDSAP256SHA256 ? 32 : 48;
      if (key.length !== 2 * size) throw new SignerError('DNSSEC', `DNSKEY: ECDSA public key is ${key.length} octets, not ${2 * size}`);
      const crv = size === 32 ? 'P-256' : 'P-384';
      return createPublicKey({ key: { kty: 'EC', crv, x: b64url(key.subarray(0, size)), y: b64url(key.subarray(size)) }, format: 'jwk' });
    }
    case Algorithm.ED25519:
    case Algorithm.ED448:
      return createPublicKey({ key: { kty: 'OKP', crv: algorithm === Algorithm.ED25519 ? 'Ed25519' : 'Ed448', x: b64url(key) }, format: 'jwk' });
    default:
      throw new SignerError('DNSSEC', `DNSKEY algorithm ${algorithm} cannot be verified by hms`);
  }
}

/** The exponent and modulus of an RSA DNSKEY (RDATA; RFC 3110 section 2), either empty when the key is truncated. */
export function rsaPublicKey(dnskeyRdata: Uint8Array): { e: Uint8Array; n: Uint8Array } {
  const key = dnskeyRdata.subarray(4);
  let expLength = key[0] ?? 0;
  let at = 1;
  if (expLength === 0) {
    expLength = ((key[1] ?? 0) << 8) | (key[2] ?? 0);
    at = 3;
  }
  return { e: key.subarray(at, at + expLength), n: key.subarray(at + expLength) };
}

/** Checks one signature over `data` with the DNSKEY's public key and algorithm. */
export function verifySignature(dnskeyRdata: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  return verifyWithKey(dnskeyRdata[3]!, publicKeyFromDnskey(dnskeyRdata), data, signature);
}

/** As verifySignature, with the public key already made (many signatures, one key). */
export function verifyWithKey(algorithm: number, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  switch (algorithm) {
    case Algorithm.RSASHA256:
      return cryptoVerify('sha256', data, key, signature);
    case Algorithm.RSASHA512:
      return cryptoVerify('sha512', data, key, signature);
    case Algorithm.ECDSAP256SHA256:
      return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case Algorithm.ECDSAP384SHA384:
      return cryptoVerify('sha384', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    default:
      return cryptoVerify(null, data, key, signature);
  }
}
