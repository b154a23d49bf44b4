import { ByteWriter } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { encodeTypeBitmap } from '../dns/rdata/fields.js';
import { RRType } from '../dns/types.js';
import { nsec3Hash } from './nsec3-hash.js';
import { encodeBase32Hex } from '../dns/rdata/base32hex.js';

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
  const entries = nsec3Entries(apex, names, params);
  return entries.map((_, i) => nsec3Record(apex, entries, i, params));
}

/** One hashed name of an NSEC3 chain: the hash and the types its bitmap lists. */
export interface Nsec3Entry {
  readonly hash: Uint8Array;
  readonly types: number[];
}

/** The hashed names of the NSEC3 chain (see buildNsec3Chain), in hash order. */
export function nsec3Entries(apex: Name, names: readonly ChainName[], params: Nsec3Params): Nsec3Entry[] {
  const entries = new Map<string, Nsec3Entry>();
  const add = (name: Name, types: number[]): void => {
    const hash = nsec3Hash(name, params.salt, params.iterations);
    const key = Buffer.from(hash.buffer, hash.byteOffset, hash.length).toString('latin1');
    const had = entries.get(key);
    if (had !== undefined) {
      // an empty non-terminal met first, then the same name with data
      for (const t of types) if (!had.types.includes(t)) had.types.push(t);
      return;
    }
    entries.set(key, { types, hash });
  };
  for (const c of names) {
    if (params.optOut && c.isDelegation && !c.types.includes(RRType.DS)) continue;
    const types = withRrsig(c);
    if (c.name.equals(apex)) types.push(RRType.NSEC3PARAM);
    add(c.name, types);
    // empty non-terminals between this name and the apex
    for (let p = c.name.parent(); p !== null && !p.equals(apex) && p.isSubdomainOf(apex); p = p.parent()) add(p, []);
  }
  return [...entries.values()].sort((a, b) => Buffer.compare(a.hash, b.hash));
}

/** The NSEC3 record of `entries[i]`, pointing at the next entry (the last at the first). */
export function nsec3Record(apex: Name, entries: readonly Nsec3Entry[], i: number, params: Nsec3Params): DenialRecord {
  const e = entries[i]!;
  const next = entries[(i + 1) % entries.length]!.hash;
  const w = new ByteWriter(64);
  w.u8(1);
  w.u8(params.optOut ? 1 : 0);
  w.u16(params.iterations);
  w.u8(params.salt.length);
  w.bytes(params.salt);
  w.u8(next.length);
  w.bytes(next);
  encodeTypeBitmap(e.types, w);
  return { owner: apex.child(encodeBase32Hex(e.hash).toLowerCase()), type: RRType.NSEC3, rdata: w.finish() };
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
