import { createHash } from 'node:crypto';
import { SignerError } from '../common/errors.js';
import { ByteWriter } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { DIGEST_HASH, type DigestTypeNumber } from './algorithms.js';
import { keyTag } from './key-tag.js';

/**
 * The DS (or CDS) RDATA for a DNSKEY (RFC 4034 section 5.1.4, RFC 4509, RFC 6605):
 * digest = hash(canonical owner name | DNSKEY RDATA).
 */
export function makeDs(owner: Name, dnskeyRdata: Uint8Array, digestType: DigestTypeNumber): Uint8Array {
  const hash = DIGEST_HASH[digestType];
  if (hash === undefined) throw new SignerError('DNSSEC', `DS digest type ${String(digestType)} is not supported (1, 2 or 4)`);
  const digest = createHash(hash).update(owner.toLowerCase().toBytes()).update(dnskeyRdata).digest();
  const w = new ByteWriter(4 + digest.length);
  w.u16(keyTag(dnskeyRdata));
  w.u8(dnskeyRdata[3]!);
  w.u8(digestType);
  w.bytes(digest);
  return w.finish();
}
