import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { ByteWriter } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { DNSSEC_TYPES, RRType } from '../dns/types.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import type { DigestTypeNumber } from './algorithms.js';
import { makeDs } from './ds.js';
import { buildNsec3Chain, buildNsecChain, nsec3ParamRdata, type ChainName, type Nsec3Params } from './denial.js';
import { encodeRrsigHeader, rrsigLabels, signingInput } from './rrsig.js';
import type { SigningKey } from './signer.js';

export type Denial = { readonly kind: 'nsec' } | ({ readonly kind: 'nsec3' } & Nsec3Params);

/** Everything signing a zone depends on, the time included (dnspython's sign_zone, one object). */
export interface SignZoneOptions {
  readonly keys: readonly SigningKey[];
  readonly denial: Denial;
  readonly inception: UnixSeconds;
  readonly expiration: UnixSeconds;
  /** TTL of the DNSKEY RRset (DP-4.5b: at most an hour); default the SOA TTL. */
  readonly dnskeyTtl?: number;
  /** The new SOA serial; default: keep the input's. */
  readonly serial?: number;
  /** Signatures handed to a Signer at once, so that an HSM's sessions all have work. */
  readonly batch?: number;
  /**
   * Publish CDS (with these digest types) and CDNSKEY for the KSKs (RFC 7344, DP-4.7a), signed
   * by the KSKs; CDS/CDNSKEY in the input are then replaced.
   */
  readonly cds?: { readonly digestTypes: readonly DigestTypeNumber[] };
}

interface Record {
  readonly owner: Name;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/**
 * Signs a zone (RFC 4035 section 2): DNSKEY at the apex signed by the KSKs (or CSK), every
 * other authoritative RRset by the ZSKs (or CSK), delegation NS and glue left unsigned, DS at
 * a cut signed, and the NSEC or NSEC3 chain with TTL min(SOA MINIMUM, SOA TTL) (RFC 9077,
 * DP-4.5d). DNSSEC records in the input are replaced. A pure function of its inputs: the
 * time comes in as inception and expiration.
 */
export async function signZone(zone: Zone, options: SignZoneOptions): Promise<Zone> {
  const apex = zone.origin;
  const soaSet = zone.soa;
  if (soaSet === undefined || soaSet.records.length !== 1) throw new SignerError('DNSSEC', `zone ${apex.toString()}: one SOA is needed to sign`);
  if (options.expiration <= options.inception) throw new SignerError('DNSSEC', 'signature expiration is not after inception');
  const ksks = options.keys.filter((k) => k.role !== 'zsk');
  const zsks = options.keys.filter((k) => k.role !== 'ksk');
  if (ksks.length === 0 || zsks.length === 0) throw new SignerError('DNSSEC', 'signing needs a KSK and a ZSK, or a CSK');

  const soaRr = soaSet.records[0]!;
  const soa = decodeSoa(soaRr.rdata);
  const denialTtl = Math.min(soa.minimum, soaRr.ttl);
  const records: Record[] = [];
  const toSign: { set: Record[]; signers: readonly SigningKey[] }[] = [];
  const chain: ChainName[] = [];

  // which names are delegations, and what lies below them (glue, unsigned and unchained)
  let cut: Name | undefined;
  for (const node of zone.nodes) {
    const name = node.name;
    if (cut !== undefined && name.isSubdomainOf(cut) && !name.equals(cut)) {
      for (const set of node.rrsets) for (const rr of set.records) records.push({ owner: set.owner, type: set.type, ttl: rr.ttl, rdata: rr.rdata });
      continue;
    }
    const isApex = name.equals(apex);
    const isDelegation = !isApex && node.rrsets.some((s) => s.type === RRType.NS);
    cut = isDelegation ? name : undefined;
    const types: number[] = [];
    for (const set of node.rrsets) {
      const isCds = set.type === RRType.CDS || set.type === RRType.CDNSKEY;
      if (DNSSEC_TYPES.has(set.type) && (!isCds || options.cds !== undefined)) continue;
      let rdatas = set.records.map((r) => r.rdata);
      if (set.type === RRType.SOA && options.serial !== undefined) rdatas = [withSerial(rdatas[0]!, options.serial)];
      const ttl = Math.min(...set.records.map((r) => r.ttl));
      const out = rdatas.map((rdata) => ({ owner: set.owner, type: set.type, ttl, rdata }));
      records.push(...out);
      types.push(set.type);
      const signed = !isDelegation || set.type === RRType.DS;
      if (signed) toSign.push({ set: out, signers: set.type === RRType.CDS || set.type === RRType.CDNSKEY ? ksks : zsks });
    }
    if (isApex) {
      const ttl = options.dnskeyTtl ?? soaRr.ttl;
      const dnskeys = uniqueBy(options.keys.map((k) => k.signer.dnskey)).map((rdata) => ({ owner: apex, type: RRType.DNSKEY, ttl, rdata }));
      records.push(...dnskeys);
      types.push(RRType.DNSKEY);
      toSign.push({ set: dnskeys, signers: ksks });
      if (options.cds !== undefined) {
        const kskKeys = uniqueBy(ksks.map((k) => k.signer.dnskey));
        const cds = kskKeys.flatMap((dnskey) => options.cds!.digestTypes.map((d) => ({ owner: apex, type: RRType.CDS, ttl, rdata: makeDs(apex, dnskey, d) })));
        const cdnskey = kskKeys.map((rdata) => ({ owner: apex, type: RRType.CDNSKEY, ttl, rdata }));
        records.push(...cds, ...cdnskey);
        types.push(RRType.CDS, RRType.CDNSKEY);
        toSign.push({ set: cds, signers: ksks }, { set: cdnskey, signers: ksks });
      }
      if (options.denial.kind === 'nsec3') {
        const param = { owner: apex, type: RRType.NSEC3PARAM, ttl: 0, rdata: nsec3ParamRdata(options.denial) };
        records.push(param);
        toSign.push({ set: [param], signers: zsks });
      }
    }
    if (types.length > 0) chain.push({ name, types: types.sort((a, b) => a - b), isDelegation });
  }

  const denial = options.denial.kind === 'nsec' ? buildNsecChain(chain) : buildNsec3Chain(apex, chain, options.denial);
  for (const d of denial) {
    const rr = { owner: d.owner, type: d.type, ttl: denialTtl, rdata: d.rdata };
    records.push(rr);
    toSign.push({ set: [rr], signers: zsks });
  }

  // all signatures, handed to the signers a batch at a time; the signing input of a job is
  // built only when its batch comes, so a large zone never holds them all at once
  const jobs: { set: Record[]; labels: number; key: SigningKey }[] = [];
  for (const { set, signers } of toSign) {
    const labels = rrsigLabels(set[0]!.owner);
    for (const key of signers) jobs.push({ set, labels, key });
  }
  const batch = options.batch ?? 256;
  for (let i = 0; i < jobs.length; i += batch) {
    const slice = jobs.slice(i, i + batch).map(({ set, labels, key }) => {
      const first = set[0]!;
      const header = encodeRrsigHeader({
        typeCovered: first.type, algorithm: key.signer.algorithm, labels, originalTtl: first.ttl,
        expiration: options.expiration >>> 0, inception: options.inception >>> 0, keyTag: key.signer.keyTag, signer: apex,
      });
      const data = signingInput(header, labels, first.owner, first.type, first.ttl, set.map((r) => r.rdata));
      return { first, header, signature: key.signer.sign(data) };
    });
    // Promise.all handles every rejection of the batch, not only the first one awaited
    const signatures = await Promise.all(slice.map((job) => job.signature));
    for (const [k, job] of slice.entries()) {
      const signature = signatures[k]!;
      const w = new ByteWriter(job.header.length + signature.length);
      w.bytes(job.header);
      w.bytes(signature);
      records.push({ owner: job.first.owner, type: RRType.RRSIG, ttl: job.first.ttl, rdata: w.finish() });
    }
  }

  const builder = new ZoneBuilder(apex);
  for (const r of records) builder.add({ ...r, file: '(signed)', line: 0 });
  return builder.freeze();
}

function withSerial(soaRdata: Uint8Array, serial: number): Uint8Array {
  const copy = Uint8Array.from(soaRdata);
  const at = copy.length - 20;
  copy[at] = (serial >>> 24) & 0xff;
  copy[at + 1] = (serial >>> 16) & 0xff;
  copy[at + 2] = (serial >>> 8) & 0xff;
  copy[at + 3] = serial & 0xff;
  return copy;
}

function uniqueBy(items: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Set<string>();
  return items.filter((b) => {
    const k = Buffer.from(b).toString('hex');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

