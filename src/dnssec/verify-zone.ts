import type { UnixSeconds } from '../common/clock.js';
import { ByteReader } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { encodeBase32Hex } from '../dns/rdata/base32hex.js';
import { decodeTypeBitmap } from '../dns/rdata/fields.js';
import { RRType, typeToString } from '../dns/types.js';
import type { KeyObject } from 'node:crypto';
import type { NodeView, Zone } from '../zone/zone.js';
import { keyTag } from './key-tag.js';
import { nsec3Hash } from './nsec3-hash.js';
import { decodeRrsig, signingInput } from './rrsig.js';
import { publicKeyFromDnskey, verifyWithKey } from './verify-signature.js';

/** One problem found in a signed zone. */
export interface VerifyProblem {
  readonly owner: string;
  readonly type?: string;
  readonly message: string;
}

interface Dnskey {
  readonly tag: number;
  readonly algorithm: number;
  readonly key: KeyObject;
}

/**
 * Checks a signed zone as a validator would (RFC 4035 section 5): every authoritative RRset
 * has a signature that verifies with a DNSKEY of the apex and is valid at `now`, no signature
 * is bad, and the NSEC or NSEC3 chain is whole: every name (and, for NSEC3, every empty
 * non-terminal) covered once, in order, the ring closed, each bitmap matching the name's types.
 *
 * It reads the zone a name at a time, in canonical order with the apex first (NSEC3 names may
 * come anywhere after the apex), so that the signer's output can be checked as it is written
 * without holding it: `node` for each name, then `finish` for every problem found. An empty
 * list means the zone may be published.
 */
export class ZoneVerifier {
  private readonly problems: VerifyProblem[] = [];
  private dnskeys: Dnskey[] | undefined;
  private nsec3: { readonly iterations: number; readonly salt: Uint8Array } | undefined;
  private cut: Name | undefined;
  private seen = false;
  /** NSEC: the first name and the last one with its NSEC's next name. */
  private firstName: Name | undefined;
  private lastNsec: { readonly owner: Name; readonly next: Name } | undefined;
  /**
   * NSEC3: what the chain must hold (hash to the name and its types; DONE once its NSEC3 was
   * met), NSEC3 records met before their name, and the ring so far (the records come in hash
   * order, as canonical order puts them). Types are kept as short strings: a million-name
   * zone is checked in little memory.
   */
  private readonly expected = new Map<string, Expected | typeof DONE>();
  private readonly early = new Map<string, { readonly owner: Name; readonly types: string }>();
  private ring: { first: string; last: string; lastOwner: Name; lastNext: string } | undefined;
  private optOut = false;

  constructor(private readonly apex: Name, private readonly now: UnixSeconds) {}

  private problem(owner: Name, message: string, type?: number): void {
    this.problems.push({ owner: owner.toString(), message, ...(type === undefined ? {} : { type: typeToString(type) }) });
  }

  node(node: NodeView): void {
    const name = node.name;
    if (!this.seen) {
      this.seen = true;
      if (!name.equals(this.apex)) this.problem(this.apex, 'the zone does not start at its apex');
      this.readApex(node);
    }
    if (this.dnskeys === undefined) return;
    if (this.cut !== undefined && name.isSubdomainOf(this.cut) && !name.equals(this.cut)) return; // glue
    const types = node.rrsets.map((s) => s.type);
    if (types.every((t) => t === RRType.NSEC3 || t === RRType.RRSIG)) {
      this.checkSignatures(node, undefined);
      this.readNsec3(node);
      return;
    }
    const isDelegation = !name.equals(this.apex) && types.includes(RRType.NS);
    this.cut = isDelegation ? name : undefined;
    this.checkSignatures(node, isDelegation);
    if (this.nsec3 === undefined) this.checkNsec(node);
    else this.expectNsec3(node, isDelegation);
  }

  finish(): VerifyProblem[] {
    if (!this.seen) this.problem(this.apex, 'the zone is empty');
    if (this.dnskeys === undefined) return this.problems;
    if (this.nsec3 === undefined) {
      if (this.lastNsec !== undefined && this.firstName !== undefined && !this.lastNsec.next.equals(this.firstName)) {
        this.problem(this.lastNsec.owner, `NSEC points at ${this.lastNsec.next.toString()}, not ${this.firstName.toString()}`, RRType.NSEC);
      }
    } else {
      this.finishNsec3();
    }
    return this.problems;
  }

  private readApex(node: NodeView): void {
    const dnskey = node.rrsets.find((s) => s.type === RRType.DNSKEY);
    if (dnskey === undefined || dnskey.records.length === 0) {
      this.problem(this.apex, 'no DNSKEY at the apex');
      return;
    }
    this.dnskeys = dnskey.records.map((r) => ({ tag: keyTag(r.rdata), algorithm: r.rdata[3]!, key: publicKeyFromDnskey(r.rdata) }));
    const param = node.rrsets.find((s) => s.type === RRType.NSEC3PARAM);
    if (param !== undefined) {
      const p = new ByteReader(param.records[0]!.rdata);
      p.u8();
      p.u8();
      const iterations = p.u16();
      this.nsec3 = { iterations, salt: p.bytes(p.u8()) };
    }
  }

  /** `isDelegation` undefined: an NSEC3 owner (only its NSEC3 is signed). */
  private checkSignatures(node: NodeView, isDelegation: boolean | undefined): void {
    const sigs = node.rrsets.find((s) => s.type === RRType.RRSIG)?.records ?? [];
    const decoded = sigs.map((r) => ({ rdata: r.rdata, sig: decodeRrsig(r.rdata) }));
    for (const set of node.rrsets) {
      if (set.type === RRType.RRSIG || !needsSignature(isDelegation, set.type)) continue;
      let found = false;
      for (const { rdata, sig } of decoded) {
        if (sig.typeCovered !== set.type) continue;
        found = true;
        const key = this.dnskeys!.find((k) => k.tag === sig.keyTag && k.algorithm === sig.algorithm);
        if (key === undefined) {
          this.problem(node.name, `RRSIG by key ${sig.keyTag} (algorithm ${sig.algorithm}): no such DNSKEY at the apex`, set.type);
          continue;
        }
        const header = rdata.subarray(0, rdata.length - sig.signature.length);
        const data = signingInput(header, sig.labels, node.name, set.type, sig.originalTtl, set.records.map((r) => r.rdata));
        if (!verifyWithKey(key.algorithm, key.key, data, sig.signature)) {
          this.problem(node.name, `RRSIG by key ${sig.keyTag} does not verify`, set.type);
        } else if (this.now < sig.inception || this.now > sig.expiration) {
          this.problem(node.name, `RRSIG by key ${sig.keyTag} is not valid now (${sig.inception} to ${sig.expiration})`, set.type);
        }
      }
      if (!found) this.problem(node.name, 'no RRSIG', set.type);
    }
  }

  private checkNsec(node: NodeView): void {
    if (this.firstName === undefined) this.firstName = node.name;
    if (this.lastNsec !== undefined && !this.lastNsec.next.equals(node.name)) {
      this.problem(this.lastNsec.owner, `NSEC points at ${this.lastNsec.next.toString()}, not ${node.name.toString()}`, RRType.NSEC);
    }
    this.lastNsec = undefined;
    const nsec = node.rrsets.find((s) => s.type === RRType.NSEC);
    if (nsec === undefined || nsec.records.length !== 1) {
      this.problem(node.name, nsec === undefined ? 'no NSEC' : 'more than one NSEC');
      return;
    }
    const d = new ByteReader(nsec.records[0]!.rdata);
    const next = d.name();
    const bitmap = decodeTypeBitmap(d);
    if (!sameTypes(bitmap, [...typesAt(node), RRType.NSEC])) this.problem(node.name, 'NSEC bitmap does not match the types at the name', RRType.NSEC);
    this.lastNsec = { owner: node.name, next };
  }

  private hash(name: Name): string {
    return encodeBase32Hex(nsec3Hash(name, this.nsec3!.salt, this.nsec3!.iterations));
  }

  private expectNsec3(node: NodeView, isDelegation: boolean): void {
    const types = typesAt(node);
    const insecure = isDelegation && !types.includes(RRType.DS);
    this.expect(this.hash(node.name), { name: node.name, types: typesKey(insecure ? types.filter((t) => t !== RRType.RRSIG) : types), optOutable: insecure });
    // empty non-terminals up to the apex (met before the names below them, or after)
    for (let q = node.name.parent(); q !== null && !q.equals(this.apex) && q.isSubdomainOf(this.apex); q = q.parent()) {
      const h = this.hash(q);
      const had = this.expected.get(h);
      if (had === undefined) this.expect(h, { name: q, types: '', optOutable: insecure });
      else if (had !== DONE && had.optOutable && !insecure && had.types === '') this.expected.set(h, { ...had, optOutable: false });
    }
  }

  private expect(hash: string, want: Expected): void {
    const met = this.early.get(hash);
    if (met === undefined) {
      this.expected.set(hash, want);
      return;
    }
    this.early.delete(hash);
    this.expected.set(hash, DONE);
    if (met.types !== want.types) this.problem(met.owner, `NSEC3 bitmap for ${want.name.toString()} does not match the types at the name`, RRType.NSEC3);
  }

  private readNsec3(node: NodeView): void {
    const set = node.rrsets.find((s) => s.type === RRType.NSEC3);
    if (set === undefined) return;
    const d = new ByteReader(set.records[0]!.rdata);
    d.u8();
    const flags = d.u8();
    d.u16();
    d.bytes(d.u8());
    const next = encodeBase32Hex(d.bytes(d.u8()));
    const types = typesKey(decodeTypeBitmap(d));
    const hash = node.name.labels()[0]!.toUpperCase();
    if ((flags & 1) === 1) this.optOut = true;
    // one ring in hash order (base32hex keeps the order of the hashes it spells)
    if (this.ring === undefined) {
      this.ring = { first: hash, last: hash, lastOwner: node.name, lastNext: next };
    } else {
      if (this.ring.lastNext !== hash) this.problem(this.ring.lastOwner, `NSEC3 next hash ${this.ring.lastNext} should be ${hash}`, RRType.NSEC3);
      Object.assign(this.ring, { last: hash, lastOwner: node.name, lastNext: next });
    }
    const want = this.expected.get(hash);
    if (want === undefined) {
      this.early.set(hash, { owner: node.name, types });
      return;
    }
    if (want === DONE) {
      this.problem(node.name, 'a second NSEC3 for the same hash', RRType.NSEC3);
      return;
    }
    this.expected.set(hash, DONE);
    if (want.types !== types) this.problem(node.name, `NSEC3 bitmap for ${want.name.toString()} does not match the types at the name`, RRType.NSEC3);
  }

  private finishNsec3(): void {
    // every name with data, and every empty non-terminal, has its NSEC3; with opt-out,
    // insecure delegations (and what exists only for them) may be left out
    for (const [hash, want] of this.expected) {
      if (want !== DONE && !(this.optOut && want.optOutable)) this.problem(want.name, `no NSEC3 for the name (hash ${hash})`);
    }
    for (const { owner } of this.early.values()) this.problem(owner, 'NSEC3 for no name of the zone', RRType.NSEC3);
    if (this.ring !== undefined && this.ring.lastNext !== this.ring.first) {
      this.problem(this.ring.lastOwner, `NSEC3 next hash ${this.ring.lastNext} should be ${this.ring.first}`, RRType.NSEC3);
    }
  }
}

interface Expected {
  readonly name: Name;
  /** typesKey of the types its NSEC3 must list. */
  readonly types: string;
  /** Exists only for an insecure delegation: opt-out may leave it out. */
  readonly optOutable: boolean;
}

const DONE = Symbol('met');

/** Types as a short string, the same for the same set in any order. */
function typesKey(types: readonly number[]): string {
  return [...new Set(types)].sort((a, b) => a - b).join(' ');
}

/** Checks a whole signed zone with a ZoneVerifier (see there). */
export function verifyZone(zone: Zone, now: UnixSeconds): VerifyProblem[] {
  const verifier = new ZoneVerifier(zone.origin, now);
  for (const node of zone.nodes) verifier.node(node);
  return verifier.finish();
}

/** `isDelegation` undefined: an NSEC3 owner (its NSEC3 is signed). */
function needsSignature(isDelegation: boolean | undefined, type: number): boolean {
  if (isDelegation === undefined) return type === RRType.NSEC3;
  return !isDelegation || type === RRType.DS || type === RRType.NSEC;
}

function typesAt(node: NodeView): number[] {
  return node.rrsets.map((s) => s.type).filter((t) => t !== RRType.NSEC).sort((a, b) => a - b);
}

function sameTypes(a: readonly number[], b: readonly number[]): boolean {
  const x = [...new Set(a)].sort((p, q) => p - q);
  const y = [...new Set(b)].sort((p, q) => p - q);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
