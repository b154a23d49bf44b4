import { createHash } from 'node:crypto';
import type { Name } from '../dns/name.js';

/**
 * The NSEC3 hash of a name (RFC 5155 section 5): SHA-1 over the canonical (lowercased) wire
 * name and the salt, then `iterations` more times over the digest and the salt.
 */
export function nsec3Hash(name: Name, salt: Uint8Array, iterations: number): Uint8Array {
  let digest = createHash('sha1').update(name.toLowerCase().toBytes()).update(salt).digest();
  for (let i = 0; i < iterations; i++) digest = createHash('sha1').update(digest).update(salt).digest();
  return digest;
}
