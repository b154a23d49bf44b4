import type { UnixSeconds } from '../common/clock.js';
import { ByteReader } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { decodeBase32Hex, encodeBase32Hex } from '../dns/rdata/base32hex.js';
import { decodeTypeBitmap } from '../dns/rdata/fields.js';
import { RRType, typeToString } from '../dns/types.js';
import type { RRset, Zone, ZoneNode } from '../zone/zone.js';
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

/**
 * Checks a signed zone as a validator would (RFC 4035 section 5): every authoritative RRset
 * has a signature that verifies with a DNSKEY of the apex and is valid at `now`, no signature
 * is bad, and the NSEC or NSEC3 chain is whole: every name (and, for NSEC3, every empty
 * non-terminal) covered once, in order, the ring closed, each bitmap matching the name's types.
 * Returns every problem; an empty list means the zone may be published.
 */
export function verifyZone(zone: Zone, now: UnixSeconds): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const apex = zone.origin;
  const problem = (owner: Name, message: string, type?: number): void => {
    problems.push({ owner: owner.toString(), message, ...(type === undefined ? {} : { type: typeToString(type) }) });
  };
  const dnskeys = (zone.rrset(apex, RRType.DNSKEY)?.records ?? []).map((r) => ({ rdata: r.rdata, tag: keyTag(r.rdata), algorithm: r.rdata[3]!, key: publicKeyFromDnskey(r.rdata) }));
  if (dnskeys.length === 0) {
    problem(apex, 'no DNSKEY at the apex');
    return problems;
  }

  // names with data, in canonical order, and what is below delegations
  const authoritative: { node: ZoneNode; isDelegation: boolean }[] = [];
  let cut: Name | undefined;
  for (const node of zone.nodes) {
    if (cut !== undefined && node.name.isSubdomainOf(cut) && !node.name.equals(cut)) continue;
    const types = node.rrsets.map((s) => s.type);
    if (types.every((t) => t === RRType.NSEC3 || t === RRType.RRSIG)) continue; // NSEC3 owners
    const isDelegation = !node.name.equals(apex) && types.includes(RRType.NS);
    cut = isDelegation ? node.name : undefined;
    authoritative.push({ node, isDelegation });
  }

  // signatures
  const role = new Map(authoritative.map((a) => [a.node, a.isDelegation]));
  for (const node of zone.nodes) {
    const sigs = node.rrsets.find((s) => s.type === RRType.RRSIG)?.records ?? [];
    const decoded = sigs.map((r) => ({ rr: r, sig: decodeRrsig(r.rdata) }));
    for (const set of node.rrsets) {
      if (set.type === RRType.RRSIG || !needsSignature(role.get(node), set)) continue;
      const mine = decoded.filter((d) => d.sig.typeCovered === set.type);
      if (mine.length === 0) {
        problem(node.name, 'no RRSIG', set.type);
        continue;
      }
      for (const { rr, sig } of mine) {
        const key = dnskeys.find((k) => k.tag === sig.keyTag && k.algorithm === sig.algorithm);
        if (key === undefined) {
          problem(node.name, `RRSIG by key ${sig.keyTag} (algorithm ${sig.algorithm}): no such DNSKEY at the apex`, set.type);
          continue;
        }
        const header = rr.rdata.subarray(0, rr.rdata.length - sig.signature.length);
        const data = signingInput(header, sig.labels, node.name, set.type, sig.originalTtl, set.records.map((r) => r.rdata));
        if (!verifyWithKey(key.algorithm, key.key, data, sig.signature)) {
          problem(node.name, `RRSIG by key ${sig.keyTag} does not verify`, set.type);
        } else if (now < sig.inception || now > sig.expiration) {
          problem(node.name, `RRSIG by key ${sig.keyTag} is not valid now (${sig.inception} to ${sig.expiration})`, set.type);
        }
      }
    }
  }

  const param = zone.rrset(apex, RRType.NSEC3PARAM);
  if (param !== undefined) checkNsec3Chain(zone, authoritative, param, problem);
  else checkNsecChain(authoritative, problem);
  return problems;
}

type Problem = (owner: Name, message: string, type?: number) => void;

/** `isDelegation` undefined: glue (unsigned) or an NSEC3 owner (its NSEC3 is signed). */
function needsSignature(isDelegation: boolean | undefined, set: RRset): boolean {
  if (isDelegation === undefined) return set.type === RRType.NSEC3;
  return !isDelegation || set.type === RRType.DS || set.type === RRType.NSEC;
}

function typesAt(node: ZoneNode): number[] {
  return node.rrsets.map((s) => s.type).filter((t) => t !== RRType.NSEC).sort((a, b) => a - b);
}

function sameTypes(a: readonly number[], b: readonly number[]): boolean {
  const x = [...new Set(a)].sort((p, q) => p - q);
  const y = [...new Set(b)].sort((p, q) => p - q);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}

function checkNsecChain(names: readonly { node: ZoneNode }[], problem: Problem): void {
  for (let i = 0; i < names.length; i++) {
    const node = names[i]!.node;
    const nsec = node.rrsets.find((s) => s.type === RRType.NSEC);
    if (nsec === undefined || nsec.records.length !== 1) {
      problem(node.name, nsec === undefined ? 'no NSEC' : 'more than one NSEC');
      continue;
    }
    const d = new ByteReader(nsec.records[0]!.rdata);
    const next = d.name();
    const bitmap = decodeTypeBitmap(d);
    const expected = names[(i + 1) % names.length]!.node.name;
    if (!next.equals(expected)) problem(node.name, `NSEC points at ${next.toString()}, not ${expected.toString()}`, RRType.NSEC);
    if (!sameTypes(bitmap, [...typesAt(node), RRType.NSEC])) problem(node.name, 'NSEC bitmap does not match the types at the name', RRType.NSEC);
  }
}

function checkNsec3Chain(zone: Zone, names: readonly { node: ZoneNode; isDelegation: boolean }[], param: RRset, problem: Problem): void {
  const apex = zone.origin;
  const p = new ByteReader(param.records[0]!.rdata);
  p.u8();
  p.u8();
  const iterations = p.u16();
  const salt = p.bytes(p.u8());
  // the NSEC3 records, by hash
  const byHash = new Map<string, { owner: Name; flags: number; next: string; types: number[] }>();
  for (const node of zone.nodes) {
    const set = node.rrsets.find((s) => s.type === RRType.NSEC3);
    if (set === undefined) continue;
    const d = new ByteReader(set.records[0]!.rdata);
    d.u8();
    const flags = d.u8();
    d.u16();
    d.bytes(d.u8());
    const next = encodeBase32Hex(d.bytes(d.u8()));
    byHash.set(node.name.labels()[0]!.toUpperCase(), { owner: node.name, flags, next, types: decodeTypeBitmap(d) });
  }
  const optOut = [...byHash.values()].some((e) => (e.flags & 1) === 1);
  // every name with data, and every empty non-terminal, has its NSEC3 with the right bitmap
  const expected = new Map<string, { name: Name; types: number[] }>();
  for (const { node, isDelegation } of names) {
    const types = typesAt(node);
    if (optOut && isDelegation && !types.includes(RRType.DS)) continue;
    const hash = encodeBase32Hex(nsec3Hash(node.name, salt, iterations));
    const withSig = isDelegation && !types.includes(RRType.DS) ? types.filter((t) => t !== RRType.RRSIG) : types;
    expected.set(hash, { name: node.name, types: withSig });
    for (let q = node.name.parent(); q !== null && !q.equals(apex) && q.isSubdomainOf(apex); q = q.parent()) {
      const h = encodeBase32Hex(nsec3Hash(q, salt, iterations));
      if (!expected.has(h)) expected.set(h, { name: q, types: [] });
    }
  }
  for (const [hash, { name, types }] of expected) {
    const entry = byHash.get(hash);
    if (entry === undefined) problem(name, `no NSEC3 for the name (hash ${hash})`);
    else if (!sameTypes(entry.types, types)) problem(entry.owner, `NSEC3 bitmap for ${name.toString()} does not match the types at the name`, RRType.NSEC3);
  }
  for (const [hash, entry] of byHash) if (!expected.has(hash)) problem(entry.owner, 'NSEC3 for no name of the zone', RRType.NSEC3);
  // one ring in hash order
  const hashes = [...byHash.keys()].sort((a, b) => Buffer.compare(Buffer.from(decodeBase32Hex(a)), Buffer.from(decodeBase32Hex(b))));
  hashes.forEach((h, i) => {
    const want = hashes[(i + 1) % hashes.length]!;
    const entry = byHash.get(h)!;
    if (entry.next !== want) problem(entry.owner, `NSEC3 next hash ${entry.next} should be ${want}`, RRType.NSEC3);
  });
}
