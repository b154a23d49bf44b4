import { fnv1a } from '../common/fnv.js';
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
    typeCovered: d.u16(),
    algorithm: d.u8(),
    labels: d.u8(),
    originalTtl: d.u32(),
    expiration: d.u32(),
    inception: d.u32(),
    keyTag: d.u16(),
    signer: d.name(),
    signature: d.rest(),
  };
}

/**
 * The data an RRSIG signs (RFC 4034 section 3.1.8.1): the RRSIG RDATA without its signature,
 * then every RR of the RRset in canonical form (section 6.2: owner lowercased, or the wildcard
 * it was expanded from when `labels` is smaller, RFC 4035 section 5.3.2), with the original
 * TTL, in canonical RDATA order (section 6.3), duplicates removed.
 */
export function signingInput(header: Uint8Array, labels: number, owner: Name, type: number, originalTtl: number, rdatas: readonly Uint8Array[]): Uint8Array {
  return canonicalRRset(header, labels, owner, type, originalTtl, rdatas);
}

/**
 * The RRset part of the signing input (what follows the RRSIG header), after `prefix`: built
 * once per RRset by the signer and put behind each key's header.
 */
export function canonicalRRset(prefix: Uint8Array, labels: number, owner: Name, type: number, originalTtl: number, rdatas: readonly Uint8Array[]): Uint8Array {
  const w = SCRATCH;
  w.reset();
  w.bytes(prefix);
  writeCanonicalRRset(
    w,
    labels,
    owner,
    type,
    originalTtl,
    rdatas.map((rdata) => ({ rdata })),
  );
  return w.finish();
}

const SCRATCH = new ByteWriter(1024);

/** The TTL an RRset is signed and served with: its records' smallest (RFC 2181 section 5.2). */
export function minTtl(records: readonly { readonly ttl: number }[]): number {
  let ttl = records[0]!.ttl;
  for (const r of records) if (r.ttl < ttl) ttl = r.ttl;
  return ttl;
}

/**
 * Writes the RRset part of a signing input (see signingInput) into `w`: written by hand and
 * into a buffer that is reused, for this runs once per RRset of every zone signed and every
 * zone verified.
 */
export function writeCanonicalRRset(
  w: ByteWriter,
  labels: number,
  owner: Name,
  type: number,
  originalTtl: number,
  records: readonly { readonly rdata: Uint8Array }[],
): void {
  let ownerWire = owner.key;
  if (labels < owner.labelCount)
    ownerWire = Name.fromLabels([
      '*',
      ...owner
        .toLowerCase()
        .labels()
        .slice(owner.labelCount - labels),
    ]).wire;
  const write = (rdata: Uint8Array): void => {
    w.latin1(ownerWire);
    w.u16(type);
    w.u16(1);
    w.u32(originalTtl);
    w.u16(rdata.length);
    w.bytes(rdata);
  };
  if (records.length === 1) {
    write(canonicalRdata(type, records[0]!.rdata));
    return;
  }
  const sorted = records.map((r) => canonicalRdata(type, r.rdata)).sort(compareBytes);
  for (let i = 0; i < sorted.length; i++) if (i === 0 || compareBytes(sorted[i - 1]!, sorted[i]!) !== 0) write(sorted[i]!);
}

/**
 * RRSIG headers of one key for one run of the signer: everything but the type covered, the
 * labels and the original TTL is the same for every RRset, so it is encoded once and patched.
 */
export class RrsigHeaderTemplate {
  private readonly template: Uint8Array;

  constructor(fields: Omit<RrsigHeader, 'typeCovered' | 'labels' | 'originalTtl'>) {
    this.template = encodeRrsigHeader({ ...fields, typeCovered: 0, labels: 0, originalTtl: 0 });
  }

  get length(): number {
    return this.template.length;
  }

  /** Writes the header for one RRset into `out` at `at` (which must have room); `expiration`, if given, in place of the template's. */
  writeInto(out: Uint8Array, at: number, typeCovered: number, labels: number, originalTtl: number, expiration?: number): void {
    out.set(this.template, at);
    out[at] = typeCovered >>> 8;
    out[at + 1] = typeCovered & 0xff;
    out[at + 3] = labels;
    out[at + 4] = originalTtl >>> 24;
    out[at + 5] = (originalTtl >>> 16) & 0xff;
    out[at + 6] = (originalTtl >>> 8) & 0xff;
    out[at + 7] = originalTtl & 0xff;
    if (expiration !== undefined) {
      out[at + 8] = expiration >>> 24;
      out[at + 9] = (expiration >>> 16) & 0xff;
      out[at + 10] = (expiration >>> 8) & 0xff;
      out[at + 11] = expiration & 0xff;
    }
  }
}

/**
 * The expiration of one RRset's signatures with `jitter`: moved earlier by 0 to `jitter`
 * seconds, chosen by a hash (FNV-1a) of the owner, the type and the inception, so that the
 * expirations of a zone are spread over the jitter (OpenDNSSEC's Jitter, Knot's
 * rrsig-refresh spread) and the signer stays a pure function of its inputs. Every key's
 * signature over the RRset gets the same expiration.
 */
export function spreadExpiration(expiration: number, jitter: number, owner: Name, type: number, inception: number): number {
  if (jitter <= 0) return expiration;
  const h = fnv1a(owner.key, [type >>> 8, type & 0xff, inception >>> 24, (inception >>> 16) & 0xff, (inception >>> 8) & 0xff, inception & 0xff]);
  return expiration - (h % (jitter + 1));
}
