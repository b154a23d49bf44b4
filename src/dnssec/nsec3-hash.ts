import { hash } from 'node:crypto';
import type { Name } from '../dns/name.js';

/**
 * The NSEC3 hash of a name (RFC 5155 section 5): SHA-1 over the canonical (lowercased) wire
 * name and the salt, then `iterations` more times over the digest and the salt. One-shot
 * crypto.hash: a signer hashes every name of the zone and its verifier does it again.
 */
export function nsec3Hash(name: Name, salt: Uint8Array, iterations: number): Uint8Array {
  const owner = Buffer.from(name.key, 'latin1');
  let digest = hash('sha1', salt.length === 0 ? owner : Buffer.concat([owner, salt]), 'buffer');
  for (let i = 0; i < iterations; i++) digest = hash('sha1', salt.length === 0 ? digest : Buffer.concat([digest, salt]), 'buffer');
  return digest;
}
