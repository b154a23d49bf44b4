import { ByteReader, ByteWriter, compareBytes } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { canonicalRdata } from '../dns/rdata/index.js';

/** The RRSIG fields before the signature (RFC 4034 section 3.1). */
export interface RrsigHeader {
  readonly typeCovered: number;
  readonly algorithm: number;
  readonly labels: number;
  readonly originalTtl: number;
  readonly expiration: number;
  readonly inception: number;
  readonly keyTag: number;
  readonly signer: Name;
}

export interface Rrsig extends RrsigHeader {
  readonly signature: Uint8Array;
}

/** The RRSIG labels field: the owner's labels, not counting the root or a leading `*`. */
export function rrsigLabels(owner: Name): number {
  return owner.labelCount - (owner.isWildcard ? 1 : 0);
}

/** RRSIG RDATA up to the signature, the signer's name in canonical form (RFC 6840 section 5.1). */
export function encodeRrsigHeader(h: RrsigHeader): Uint8Array {
  const w = new ByteWriter(64);
  w.u16(h.typeCovered);
  w.u8(h.algorithm);
  w.u8(h.labels);
  w.u32(h.originalTtl);
  w.u32(h.expiration);
  w.u32(h.inception);
  w.u16(h.keyTag);
  w.name(h.signer.toLowerCase());
  return w.finish();
}

export function decodeRrsig(rdata: Uint8Array): Rrsig {
  const d = new ByteReader(rdata);
  return {
    typeCovered: d.u16(), algorithm: d.u8(), labels: d.u8(), originalTtl: d.u32(), expiration: d.u32(),
    inception: d.u32(), keyTag: d.u16(), signer: d.name(), signature: d.rest(),
  };
}

/**
 * The data an RRSIG signs (RFC 4034 section 3.1.8.1): the RRSIG RDATA without its signature,
 * then every RR of the RRset in canonical form (section 6.2: owner lowercased, or the wildcard
 * it was expanded from when `labels` is smaller, RFC 4035 section 5.3.2), with the original
 * TTL, in canonical RDATA order (section 6.3), duplicates removed.
 */
export function signingInput(header: Uint8Array, labels: number, owner: Name, type: number, originalTtl: number, rdatas: readonly Uint8Array[]): Uint8Array {
  let signedOwner = owner.toLowerCase();
  const count = signedOwner.labelCount;
  if (labels < count) signedOwner = Name.fromLabels(['*', ...signedOwner.labels().slice(count - labels)]);
  const ownerWire = signedOwner.toBytes();
  const sorted = rdatas.map((r) => canonicalRdata(type, r)).sort(compareBytes);
  const w = new ByteWriter(header.length + sorted.length * (ownerWire.length + 10 + 64));
  w.bytes(header);
  let prev: Uint8Array | undefined;
  for (const rdata of sorted) {
    if (prev !== undefined && compareBytes(prev, rdata) === 0) continue;
    prev = rdata;
    w.bytes(ownerWire);
    w.u16(type);
    w.u16(1);
    w.u32(originalTtl);
    w.u16(rdata.length);
    w.bytes(rdata);
  }
  return w.finish();
}
