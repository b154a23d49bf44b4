import { ByteWriter, compareBytes } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { encodeTypeBitmap } from '../dns/rdata/fields.js';
import { RRType } from '../dns/types.js';
import { nsec3Hash } from './nsec3-hash.js';
import { DigestTable } from './digest-table.js';

/** One name of the zone as the denial chain sees it. */
export interface ChainName {
  readonly name: Name;
  /** Types present at the name (before RRSIG/NSEC are added). */
  readonly types: readonly number[];
  /** A delegation point (NS below the apex). */
  readonly isDelegation: boolean;
}

export interface DenialRecord {
  readonly owner: Name;
  readonly type: number;
  readonly rdata: Uint8Array;
}

/** Types an NSEC or NSEC3 bitmap lists for a name that also gets RRSIGs. */
function withRrsig(c: ChainName): number[] {
  // an insecure delegation (NS and no DS) has no RRSIG: its NS is not signed
  if (c.isDelegation && !c.types.includes(RRType.DS)) return [...c.types];
  return [...c.types, RRType.RRSIG];
}

/**
 * The NSEC chain (RFC 4034 section 4, RFC 4035 section 2.3): every name with data in
 * canonical order, each pointing at the next and the last back at the apex. `names` must be
 * in canonical order with the apex first, and hold no glue-only name.
 */
export function buildNsecChain(names: readonly ChainName[]): DenialRecord[] {
  const out: DenialRecord[] = [];
  for (let i = 0; i < names.length; i++) {
    const c = names[i]!;
    const next = names[(i + 1) % names.length]!.name;
    const w = new ByteWriter(64);
    w.name(next.toLowerCase());
    // the NSEC is signed where it stands, so RRSIG is there even at an insecure delegation
    encodeTypeBitmap([...c.types, RRType.RRSIG, RRType.NSEC], w);
    out.push({ owner: c.name, type: RRType.NSEC, rdata: w.finish() });
  }
  return out;
}

export interface Nsec3Params {
  readonly iterations: number;
  readonly salt: Uint8Array;
  readonly optOut: boolean;
}

/**
 * The NSEC3 chain (RFC 5155 section 7.1): every name with data and every empty non-terminal
 * hashed; with opt-out, delegations without DS are left out (and names that exist only
 * because of them). The apex bitmap lists NSEC3PARAM. `names` as for buildNsecChain.
 */
export function buildNsec3Chain(apex: Name, names: readonly ChainName[], params: Nsec3Params): DenialRecord[] {
  const chain = new Nsec3Chain(apex, params);
  for (const c of names) chain.add(c);
  return [...chain.records()];
}

const HASH_LENGTH = 20;

/**
 * An NSEC3 chain built a name at a time (see buildNsec3Chain), so that a signer hashes each
 * name as it passes rather than all at the end. The hashes are kept in a DigestTable and the
 * types as indexes into the distinct type sets: a million names cost some 60 MB and no object
 * on the heap each.
 */
export class Nsec3Chain {
  private readonly hashes = new DigestTable(HASH_LENGTH, 1 << 12);
  private typeIds = new Uint32Array(1 << 12);
  private readonly typeSets: number[][] = [[]];
  private readonly typeSetIds = new Map<string, number>([['', 0]]);
  private readonly bitmaps: (Uint8Array | undefined)[] = [];

  constructor(
    private readonly apex: Name,
    private readonly params: Nsec3Params,
  ) {}

  /** Hashes a name of the zone and the empty non-terminals above it (in any order). */
  add(c: ChainName): void {
    if (this.params.optOut && c.isDelegation && !c.types.includes(RRType.DS)) return;
    const types = withRrsig(c);
    if (c.name.equals(this.apex)) types.push(RRType.NSEC3PARAM);
    this.put(c.name, types);
    // empty non-terminals between this name and the apex
    for (let p = c.name.parent(); p !== null && !p.equals(this.apex) && p.isSubdomainOf(this.apex); p = p.parent()) this.put(p, []);
  }

  private put(name: Name, types: readonly number[]): void {
    const hash = nsec3Hash(name, this.params.salt, this.params.iterations);
    const i = this.hashes.find(hash);
    if (i < 0) {
      const added = this.hashes.add(hash);
      if (added >= this.typeIds.length) {
        const grown = new Uint32Array(this.typeIds.length * 2);
        grown.set(this.typeIds);
        this.typeIds = grown;
      }
      this.typeIds[added] = this.typeSet(types);
    } else if (types.length > 0) {
      // an empty non-terminal met first, then the same name with data
      this.typeIds[i] = this.typeSet([...this.typeSets[this.typeIds[i]!]!, ...types]);
    }
  }

  private typeSet(types: readonly number[]): number {
    let sorted = types;
    for (let i = 1; i < types.length; i++) {
      if (types[i - 1]! >= types[i]!) {
        sorted = [...new Set(types)].sort((a, b) => a - b);
        break;
      }
    }
    const key = sorted.join(' ');
    let id = this.typeSetIds.get(key);
    if (id === undefined) {
      id = this.typeSets.length;
      this.typeSets.push([...sorted]);
      this.typeSetIds.set(key, id);
    }
    return id;
  }

  /** Hashed names so far. */
  get size(): number {
    return this.hashes.size;
  }

  /** The chain's records in hash order, each pointing at the next (the last at the first). */
  *records(): Generator<DenialRecord> {
    const order = this.hashOrder();
    const n = order.length;
    const head = new ByteWriter(8 + this.params.salt.length);
    head.u8(1);
    head.u8(this.params.optOut ? 1 : 0);
    head.u16(this.params.iterations);
    head.u8(this.params.salt.length);
    head.bytes(this.params.salt);
    head.u8(HASH_LENGTH);
    const fixed = head.finish();
    const w = new ByteWriter(64);
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      const types = this.typeIds[i]!;
      let bitmap = this.bitmaps[types];
      if (bitmap === undefined) {
        const b = new ByteWriter(32);
        encodeTypeBitmap(this.typeSets[types]!, b);
        bitmap = this.bitmaps[types] = b.finish();
      }
      w.reset();
      w.bytes(fixed);
      w.bytes(this.hashes.key(order[(k + 1) % n]!));
      w.bytes(bitmap);
      yield { owner: Name.fromWireString(hashOwnerWire(this.hashes.key(i), this.apex.wire)), type: RRType.NSEC3, rdata: w.finish() };
    }
  }

  /** Indexes of the hashes in ascending order: by their first two octets, then each bucket sorted. */
  private hashOrder(): Uint32Array {
    const n = this.hashes.size;
    const bucketOf = (i: number): number => {
      const k = this.hashes.key(i);
      return (k[0]! << 8) | k[1]!;
    };
    const starts = new Uint32Array(65537);
    for (let i = 0; i < n; i++) starts[bucketOf(i) + 1]!++;
    for (let b = 0; b < 65536; b++) starts[b + 1]! += starts[b]!;
    const order = new Uint32Array(n);
    const fill = starts.slice(0, 65536);
    for (let i = 0; i < n; i++) order[fill[bucketOf(i)]!++] = i;
    for (let b = 0; b < 65536; b++) {
      // insertion sort: a bucket holds a handful of hashes
      for (let x = starts[b]! + 1; x < starts[b + 1]!; x++) {
        const v = order[x]!;
        let y = x - 1;
        while (y >= starts[b]! && compareBytes(this.hashes.key(order[y]!), this.hashes.key(v)) > 0) {
          order[y + 1] = order[y]!;
          y--;
        }
        order[y + 1] = v;
      }
    }
    return order;
  }
}

const LOWER_BASE32HEX = '0123456789abcdefghijklmnopqrstuv';
const OWNER = Buffer.alloc(1 + 52 + 255);

/**
 * The wire form of an NSEC3 owner: the hash in base32hex, lowercased (RFC 5155 section 3), as
 * the label before the apex; one flat string.
 */
function hashOwnerWire(hash: Uint8Array, apexWire: string): string {
  let at = 1;
  let buffer = 0;
  let bits = 0;
  for (const b of hash) {
    buffer = ((buffer << 8) | b) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      OWNER[at++] = LOWER_BASE32HEX.charCodeAt((buffer >>> bits) & 31);
    }
  }
  if (bits > 0) OWNER[at++] = LOWER_BASE32HEX.charCodeAt((buffer << (5 - bits)) & 31);
  OWNER[0] = at - 1;
  for (let i = 0; i < apexWire.length; i++) OWNER[at++] = apexWire.charCodeAt(i);
  return OWNER.toString('latin1', 0, at);
}

/** NSEC3PARAM RDATA for the apex (flags 0: the opt-out flag is NSEC3's own). */
export function nsec3ParamRdata(params: Nsec3Params): Uint8Array {
  const w = new ByteWriter(8);
  w.u8(1);
  w.u8(0);
  w.u16(params.iterations);
  w.u8(params.salt.length);
  w.bytes(params.salt);
  return w.finish();
}
