import type { UnixSeconds } from '../common/clock.js';
import { WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { encodeBase32Hex } from '../dns/rdata/base32hex.js';
import { decodeTypeBitmap } from '../dns/rdata/fields.js';
import { RRType, typeToString } from '../dns/types.js';
import type { KeyObject } from 'node:crypto';
import type { NodeView, Zone } from '../zone/zone.js';
import { keyTag } from './key-tag.js';
import { nsec3Hash } from './nsec3-hash.js';
import { DigestTable } from './digest-table.js';
import { writeCanonicalRRset } from './rrsig.js';
import { RsaBatchVerifier } from './rsa-batch.js';
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
  /** RSA keys: signatures checked a batch at a time (see RsaBatchVerifier). */
  readonly batch: RsaBatchVerifier<BatchedSignature> | undefined;
}

/** What names a signature in a batch when it turns out bad. */
interface BatchedSignature {
  readonly owner: Name;
  readonly type: number;
  readonly keyTag: number;
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
   * NSEC3: every hash met, as names that need an NSEC3 (EXPECTED, DONE once it was met) or
   * as NSEC3 records met before their name (EARLY), and the ring so far (the records come in
   * hash order, as canonical order puts them). Hashes live in a DigestTable, their state and
   * types (an index into `typeSets`) in typed arrays beside it: a million-name zone is checked
   * without an object per name on the heap (the names are the zone's own).
   */
  private readonly table = new DigestTable(HASH_LENGTH, 1 << 16);
  private state = new Uint8Array(1 << 16);
  private types = new Uint32Array(1 << 16);
  private readonly names: (Name | undefined)[] = [];
  private readonly typeSets = new Map<string, number>([['', EMPTY_TYPES]]);
  private ring: { firstLabel: string; firstHash: Uint8Array | undefined; lastOwner: Name; lastNext: Uint8Array } | undefined;
  private optOut = false;
  /** Room for a signing input, reused for every signature checked. */
  private readonly input = new ByteWriter(1024);

  constructor(
    private readonly apex: Name,
    private readonly now: UnixSeconds,
  ) {}

  private readonly badSignature = (s: BatchedSignature): void => this.problem(s.owner, `RRSIG by key ${s.keyTag} does not verify`, s.type);

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
    if (this.nsec3 === undefined) this.checkNsec(node, isDelegation);
    else this.expectNsec3(node, isDelegation);
  }

  finish(): VerifyProblem[] {
    if (!this.seen) this.problem(this.apex, 'the zone is empty');
    if (this.dnskeys === undefined) return this.problems;
    for (const key of this.dnskeys) key.batch?.check(this.badSignature);
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
    this.dnskeys = dnskey.records.map((r) => ({
      tag: keyTag(r.rdata),
      algorithm: r.rdata[3]!,
      key: publicKeyFromDnskey(r.rdata),
      batch: RsaBatchVerifier.forDnskey<BatchedSignature>(r.rdata),
    }));
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
    const decoded = sigs.map((r) => rrsigFields(r.rdata));
    for (const set of node.rrsets) {
      if (set.type === RRType.RRSIG || !needsSignature(isDelegation, set.type)) continue;
      let found = false;
      for (const sig of decoded) {
        if (sig.typeCovered !== set.type) continue;
        found = true;
        const key = this.dnskeys!.find((k) => k.tag === sig.keyTag && k.algorithm === sig.algorithm);
        if (key === undefined) {
          this.problem(node.name, `RRSIG by key ${sig.keyTag} (algorithm ${sig.algorithm}): no such DNSKEY at the apex`, set.type);
          continue;
        }
        this.input.reset();
        this.input.bytes(sig.header);
        writeCanonicalRRset(this.input, sig.labels, node.name, set.type, sig.originalTtl, set.records);
        const current = this.now >= sig.inception && this.now <= sig.expiration;
        if (key.batch !== undefined && current) {
          // checked with the rest of its batch; a bad one is reported then, or by finish()
          const batched = { owner: node.name, type: set.type, keyTag: sig.keyTag };
          if (!key.batch.add(this.input.view(), sig.signature, batched, this.badSignature)) this.badSignature(batched);
        } else if (!verifyWithKey(key.algorithm, key.key, this.input.view(), sig.signature)) {
          this.problem(node.name, `RRSIG by key ${sig.keyTag} does not verify`, set.type);
        } else if (!current) {
          this.problem(node.name, `RRSIG by key ${sig.keyTag} is not valid now (${sig.inception} to ${sig.expiration})`, set.type);
        }
      }
      if (!found) this.problem(node.name, 'no RRSIG', set.type);
    }
  }

  private checkNsec(node: NodeView, isDelegation: boolean): void {
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
    if (!sameTypes(bitmap, [...typesAt(node, isDelegation), RRType.NSEC]))
      this.problem(node.name, 'NSEC bitmap does not match the types at the name', RRType.NSEC);
    this.lastNsec = { owner: node.name, next };
  }

  private hash(name: Name): Uint8Array {
    return nsec3Hash(name, this.nsec3!.salt, this.nsec3!.iterations);
  }

  private typeSet(types: readonly number[]): number {
    const key = typesKey(types);
    let id = this.typeSets.get(key);
    if (id === undefined) {
      id = this.typeSets.size;
      this.typeSets.set(key, id);
    }
    return id;
  }

  /** The table entry of `hash`, added (with state 0) if it is new. */
  private entry(hash: Uint8Array): number {
    const found = this.table.find(hash);
    if (found >= 0) return found;
    const i = this.table.add(hash);
    if (i >= this.state.length) {
      const state = new Uint8Array(this.state.length * 2);
      state.set(this.state);
      this.state = state;
      const types = new Uint32Array(this.types.length * 2);
      types.set(this.types);
      this.types = types;
    }
    return i;
  }

  private expectNsec3(node: NodeView, isDelegation: boolean): void {
    const types = typesAt(node, isDelegation);
    const insecure = isDelegation && !types.includes(RRType.DS);
    this.expect(this.hash(node.name), node.name, this.typeSet(insecure ? types.filter((t) => t !== RRType.RRSIG) : types), insecure);
    // empty non-terminals up to the apex (met before the names below them, or after)
    for (let q = node.name.parent(); q !== null && !q.equals(this.apex) && q.isSubdomainOf(this.apex); q = q.parent()) {
      const h = this.hash(q);
      const i = this.table.find(h);
      if (i < 0 || this.state[i] === EARLY) this.expect(h, q, EMPTY_TYPES, insecure);
      else if (this.state[i] === (EXPECTED | OPT_OUTABLE) && !insecure && this.types[i] === EMPTY_TYPES) this.state[i] = EXPECTED;
    }
  }

  private expect(hash: Uint8Array, name: Name, types: number, optOutable: boolean): void {
    const i = this.entry(hash);
    if (this.state[i] === EARLY) {
      this.state[i] = DONE;
      if (this.types[i] !== types) this.problem(this.names[i]!, `NSEC3 bitmap for ${name.toString()} does not match the types at the name`, RRType.NSEC3);
      this.names[i] = undefined;
      return;
    }
    this.state[i] = optOutable ? EXPECTED | OPT_OUTABLE : EXPECTED;
    this.types[i] = types;
    this.names[i] = name;
  }

  private readNsec3(node: NodeView): void {
    const set = node.rrsets.find((s) => s.type === RRType.NSEC3);
    if (set === undefined) return;
    const d = new ByteReader(set.records[0]!.rdata);
    d.u8();
    const flags = d.u8();
    d.u16();
    d.bytes(d.u8());
    const next = Uint8Array.from(d.bytes(d.u8()));
    const types = this.typeSet(decodeTypeBitmap(d));
    const hash = hashOfOwner(node.name);
    if ((flags & 1) === 1) this.optOut = true;
    // one ring in hash order (canonical order puts the owners in the order of their hashes)
    if (this.ring === undefined) {
      this.ring = {
        firstLabel: firstLabel(node.name),
        firstHash: hash === undefined ? undefined : Uint8Array.from(hash),
        lastOwner: node.name,
        lastNext: next,
      };
    } else {
      if (hash === undefined || !sameBytes(this.ring.lastNext, hash)) {
        this.problem(this.ring.lastOwner, `NSEC3 next hash ${encodeBase32Hex(this.ring.lastNext)} should be ${firstLabel(node.name)}`, RRType.NSEC3);
      }
      this.ring.lastOwner = node.name;
      this.ring.lastNext = next;
    }
    if (hash === undefined) {
      this.problem(node.name, 'NSEC3 for no name of the zone', RRType.NSEC3);
      return;
    }
    const i = this.entry(hash);
    const state = this.state[i]! & ~OPT_OUTABLE;
    if (state === DONE || state === EARLY) {
      this.problem(node.name, 'a second NSEC3 for the same hash', RRType.NSEC3);
      return;
    }
    if (state === EXPECTED) {
      this.state[i] = DONE;
      if (this.types[i] !== types) this.problem(node.name, `NSEC3 bitmap for ${this.names[i]!.toString()} does not match the types at the name`, RRType.NSEC3);
      this.names[i] = undefined;
      return;
    }
    this.state[i] = EARLY;
    this.types[i] = types;
    this.names[i] = node.name;
  }

  private finishNsec3(): void {
    // every name with data, and every empty non-terminal, has its NSEC3; with opt-out,
    // insecure delegations (and what exists only for them) may be left out
    for (let i = 0; i < this.table.size; i++) {
      const state = this.state[i]!;
      if ((state & ~OPT_OUTABLE) === EXPECTED && !(this.optOut && (state & OPT_OUTABLE) !== 0)) {
        this.problem(this.names[i]!, `no NSEC3 for the name (hash ${encodeBase32Hex(this.table.key(i))})`);
      }
    }
    for (let i = 0; i < this.table.size; i++) if (this.state[i] === EARLY) this.problem(this.names[i]!, 'NSEC3 for no name of the zone', RRType.NSEC3);
    const ring = this.ring;
    if (ring !== undefined && (ring.firstHash === undefined || !sameBytes(ring.lastNext, ring.firstHash))) {
      this.problem(ring.lastOwner, `NSEC3 next hash ${encodeBase32Hex(ring.lastNext)} should be ${ring.firstLabel}`, RRType.NSEC3);
    }
  }
}

const HASH_LENGTH = 20;
/** States of a hash in the NSEC3 table (OPT_OUTABLE: exists only for an insecure delegation). */
const EXPECTED = 1;
const DONE = 2;
const EARLY = 3;
const OPT_OUTABLE = 4;
/** The type set of an empty non-terminal. */
const EMPTY_TYPES = 0;

/** RRSIG RDATA read without making its signer's name: the header is what the signature covers. */
function rrsigFields(rdata: Uint8Array): {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  header: Uint8Array;
  signature: Uint8Array;
} {
  const d = new ByteReader(rdata);
  const typeCovered = d.u16();
  const algorithm = d.u8();
  const labels = d.u8();
  const originalTtl = d.u32();
  const expiration = d.u32();
  const inception = d.u32();
  const keyTag = d.u16();
  // the signer's name: labels up to the root (uncompressed in RDATA)
  for (let len = d.u8('signer name'); len !== 0; len = d.u8('signer name')) {
    if (len > 63) throw new WireFormatError('bad label in the RRSIG signer name', d.pos - 1);
    d.bytes(len, 'signer name');
  }
  return { typeCovered, algorithm, labels, originalTtl, expiration, inception, keyTag, header: rdata.subarray(0, d.pos), signature: rdata.subarray(d.pos) };
}

const BASE32HEX = new Int8Array(128).fill(-1);
for (const [i, c] of [...'0123456789ABCDEFGHIJKLMNOPQRSTUV'].entries()) {
  BASE32HEX[c.charCodeAt(0)] = i;
  BASE32HEX[c.toLowerCase().charCodeAt(0)] = i;
}
const OWNER_HASH = new Uint8Array(HASH_LENGTH);

/** The hash an NSEC3 owner's first label spells in base32hex (a shared buffer), if it spells one. */
function hashOfOwner(owner: Name): Uint8Array | undefined {
  const w = owner.wire;
  const length = w.charCodeAt(0);
  if (length !== (HASH_LENGTH * 8) / 5) return undefined;
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (let i = 1; i <= length; i++) {
    const c = w.charCodeAt(i);
    const v = c < 128 ? BASE32HEX[c]! : -1;
    if (v < 0) return undefined;
    buffer = ((buffer << 5) | v) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      OWNER_HASH[at++] = (buffer >>> bits) & 0xff;
    }
  }
  return OWNER_HASH;
}

function firstLabel(name: Name): string {
  return (name.labels()[0] ?? '').toUpperCase();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Types as a short string, the same for the same set in any order. */
function typesKey(types: readonly number[]): string {
  // most come in order already (RRsets by type, bitmaps): no Set, no sort
  for (let i = 1; i < types.length; i++) if (types[i - 1]! >= types[i]!) return [...new Set(types)].sort((a, b) => a - b).join(' ');
  return types.join(' ');
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

/**
 * The types at a name but NSEC, in the order of its RRsets (by type), as its NSEC or NSEC3
 * bitmap has them: at a delegation only NS, DS and RRSIG, the parent being authoritative for
 * nothing else there (RFC 4035 section 2.3).
 */
function typesAt(node: NodeView, isDelegation: boolean): number[] {
  const types: number[] = [];
  for (const s of node.rrsets) {
    if (s.type === RRType.NSEC || (isDelegation && s.type !== RRType.NS && s.type !== RRType.DS && s.type !== RRType.RRSIG)) continue;
    types.push(s.type);
  }
  return types;
}

function sameTypes(a: readonly number[], b: readonly number[]): boolean {
  const x = [...new Set(a)].sort((p, q) => p - q);
  const y = [...new Set(b)].sort((p, q) => p - q);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
