import { hash } from 'node:crypto';
import type { Name } from '../dns/name.js';

/**
 * The NSEC3 hash of a name (RFC 5155 section 5): SHA-1 over the canonical (lowercased) wire
 * name and the salt, then `iterations` more times over the digest and the salt. A signer
 * hashes every name of the zone and its verifier does it again.
 */
export function nsec3Hash(name: Name, salt: Uint8Array, iterations: number): Uint8Array {
  const owner = name.key;
  // crypto.hash reads a string as UTF-8, which is the name's octets only when they are all
  // ASCII, as a host name's are; any other name goes in as its octets
  let digest = sha1(salt.length === 0 && ASCII.test(owner) ? owner : Buffer.concat([Buffer.from(owner, 'latin1'), salt]));
  for (let i = 0; i < iterations; i++) digest = sha1(salt.length === 0 ? digest : Buffer.concat([digest, salt]));
  return digest;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * One-shot SHA-1 whose digest comes back as a 'binary' (latin1) string: with the name given as
 * a string, 0.8 µs a name like w123.bench.example. here, against 2.2 µs for a Buffer made from
 * the name and a Buffer result (node 20 gives a Buffer result an ArrayBuffer of its own).
 */
function sha1(data: string | Uint8Array): Buffer {
  return Buffer.from(hash('sha1', data, 'binary'), 'binary');
}
