import type { UnixSeconds } from '../common/clock.js';
import { compareBytes } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { encodeBase32Hex } from '../dns/rdata/base32hex.js';
import { RRType, typeToString } from '../dns/types.js';
import { keyTag } from './key-tag.js';
import { nsec3Hash } from './nsec3-hash.js';
import { decodeRrsig, encodeRrsigHeader, signingInput } from './rrsig.js';
import { verifySignature } from './verify-signature.js';

/** An RRset as an answer carries it: the records' RDATA and the RRSIGs over them. */
export interface AnswerRRset {
  readonly owner: Name;
  readonly type: number;
  readonly rdatas: readonly Uint8Array[];
  readonly rrsigs: readonly Uint8Array[];
}

/**
 * Checks an RRset's signatures as a validator would (RFC 4035 section 5.3): some RRSIG over
 * its type, by `signer`, valid at `now`, made by a zone key of `dnskeys` with its tag and
 * algorithm, verifies. Returns the key tag that verified, or why none did.
 */
export function verifyRRset(set: AnswerRRset, signer: Name, dnskeys: readonly Uint8Array[], now: UnixSeconds): { keyTag: number } | { problem: string } {
  const where = `${set.owner.toString()}/${typeToString(set.type)}`;
  if (set.rrsigs.length === 0) return { problem: `${where}: no RRSIG` };
  const problems: string[] = [];
  for (const rdata of set.rrsigs) {
    const sig = decodeRrsig(rdata);
    if (sig.typeCovered !== set.type) continue;
    if (!sig.signer.equals(signer)) {
      problems.push(`RRSIG by ${sig.signer.toString()}, not ${signer.toString()}`);
      continue;
    }
    if (now < sig.inception || now > sig.expiration) {
      problems.push(`RRSIG ${sig.keyTag} not valid now (${sig.inception}..${sig.expiration})`);
      continue;
    }
    if (sig.labels > set.owner.labelCount) {
      problems.push(`RRSIG ${sig.keyTag} labels ${sig.labels} exceeds the owner's`);
      continue;
    }
    const keys = dnskeys.filter((k) => (k[0]! & 0x01) === 0x01 && k[3] === sig.algorithm && keyTag(k) === sig.keyTag);
    if (keys.length === 0) {
      problems.push(`RRSIG ${sig.keyTag}: no such zone key`);
      continue;
    }
    const data = signingInput(encodeRrsigHeader(sig), sig.labels, set.owner, set.type, sig.originalTtl, set.rdatas);
    if (keys.some((k) => verifySignature(k, data, sig.signature))) return { keyTag: sig.keyTag };
    problems.push(`RRSIG ${sig.keyTag} does not verify`);
  }
  return { problem: `${where}: ${problems.join('; ') || 'no RRSIG over this type'}` };
}

/** The types an NSEC or NSEC3 type bitmap lists (RFC 4034 section 4.1.2). */
export function bitmapTypes(bitmap: Uint8Array): Set<number> {
  const types = new Set<number>();
  for (let at = 0; at + 2 <= bitmap.length;) {
    const window = bitmap[at]!;
    const length = bitmap[at + 1]!;
    for (let i = 0; i < length; i++) {
      const octet = bitmap[at + 2 + i] ?? 0;
      for (let bit = 0; bit < 8; bit++) if (octet & (0x80 >> bit)) types.add(window * 256 + i * 8 + bit);
    }
    at += 2 + length;
  }
  return types;
}

/**
 * Checks that a signed answer proves there is no DS at `name` (RFC 4035 section 5.4, RFC
 * 5155 section 8): among the NSEC or NSEC3 RRsets given (each must verify against the zone's
 * DNSKEYs), an NSEC at `name` without DS in its bitmap, or one covering `name`; an NSEC3
 * matching `name`'s hash without DS, or one covering it with opt-out (an insecure delegation
 * left out of the chain). Returns nothing when proven, else why not.
 */
export function checkNoDs(name: Name, denial: readonly AnswerRRset[], signer: Name, dnskeys: readonly Uint8Array[], now: UnixSeconds): string | undefined {
  const problems: string[] = [];
  for (const set of denial) {
    if (set.type !== RRType.NSEC && set.type !== RRType.NSEC3) continue;
    const v = verifyRRset(set, signer, dnskeys, now);
    if ('problem' in v) {
      problems.push(v.problem);
      continue;
    }
    for (const rdata of set.rdatas) {
      if (set.type === RRType.NSEC) {
        const { name: next, end } = Name.decode(rdata, 0, false);
        if (set.owner.equals(name)) {
          if (!bitmapTypes(rdata.subarray(end)).has(RRType.DS)) return undefined;
          problems.push(`the NSEC at ${name.toString()} lists DS`);
        } else if (covers(set.owner.compare(name), name.compare(next), next.compare(set.owner))) return undefined;
        continue;
      }
      const { flags, bitmap, nextText, hashOf } = nsec3Fields(rdata);
      const hash = hashOf(name);
      const own = set.owner.labels()[0]!.toLowerCase();
      if (own === hash) {
        if (!bitmapTypes(bitmap).has(RRType.DS)) return undefined;
        problems.push(`the NSEC3 matching ${name.toString()} lists DS`);
      } else if ((flags & 0x01) === 1 && covers(cmp(own, hash), cmp(hash, nextText), cmp(nextText, own))) return undefined;
    }
  }
  return problems.length > 0 ? problems.join('; ') : `no NSEC or NSEC3 proves that ${name.toString()} has no DS`;
}

/** What an NSEC3 RDATA says (RFC 5155 section 3.2), with the hash of a name under its parameters, in base32hex lower case. */
export function nsec3Fields(rdata: Uint8Array): { flags: number; bitmap: Uint8Array; nextText: string; hashOf: (name: Name) => string } {
  const flags = rdata[1]!;
  const iterations = (rdata[2]! << 8) | rdata[3]!;
  const saltLength = rdata[4]!;
  const salt = rdata.subarray(5, 5 + saltLength);
  const hashLength = rdata[5 + saltLength]!;
  const next = rdata.subarray(6 + saltLength, 6 + saltLength + hashLength);
  return {
    flags,
    bitmap: rdata.subarray(6 + saltLength + hashLength),
    nextText: encodeBase32Hex(next).toLowerCase(),
    hashOf: (name) => encodeBase32Hex(nsec3Hash(name, salt, iterations)).toLowerCase(),
  };
}

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** `owner < x < next`, or, for the last record of the ring (next <= owner), `x > owner` or `x < next`. */
export function covers(ownerVsX: number, xVsNext: number, nextVsOwner: number): boolean {
  if (nextVsOwner > 0) return ownerVsX < 0 && xVsNext < 0;
  return ownerVsX < 0 || xVsNext < 0;
}

/** Two RDATA lists hold the same records (order aside). */
export function sameRdatas(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  const sort = (x: readonly Uint8Array[]): Uint8Array[] => [...x].sort(compareBytes);
  const sa = sort(a);
  const sb = sort(b);
  return sa.length === sb.length && sa.every((r, i) => compareBytes(r, sb[i]!) === 0);
}
