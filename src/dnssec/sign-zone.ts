import type { UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import { ByteWriter, compareBytes } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { DNSSEC_TYPES, RRType } from '../dns/types.js';
import type { ZoneVersion } from '../zone/version.js';
import { ZoneBuilder, type NodeView, type RecordView, type RRsetView, type Zone, type ZoneNode } from '../zone/zone.js';
import type { DigestTypeNumber } from './algorithms.js';
import { makeDs } from './ds.js';
import { buildNsecChain, Nsec3Chain, nsec3ParamRdata, type ChainName, type DenialRecord, type Nsec3Params } from './denial.js';
import type { Presigned } from './presign.js';
import { keyTag } from './key-tag.js';
import { decodeRrsig, minTtl, RrsigHeaderTemplate, rrsigLabels, spreadExpiration, writeCanonicalRRset } from './rrsig.js';
import type { SignatureSink, SigningKey } from './signer.js';

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
  /**
   * Publish CDS (with these digest types) and CDNSKEY for the KSKs (RFC 7344, DP-4.7a), signed
   * by the KSKs; CDS/CDNSKEY in the input are then replaced.
   */
  readonly cds?: {
    readonly digestTypes: readonly DigestTypeNumber[];
    /** The DNSKEYs whose DS the parent should hold (RFC 7344); default every KSK's. */
    readonly dnskeys?: readonly Uint8Array[];
    /** Ask the parent to remove every DS instead: CDS `0 0 0 00` and CDNSKEY `0 3 0 AA==` (RFC 8078 section 4). */
    readonly delete?: boolean;
  };
  /** SOA values the policy forces (the SOA TTL among them); the input's are kept otherwise. */
  readonly soa?: { readonly ttl?: number; readonly refresh?: number; readonly retry?: number; readonly expire?: number; readonly minimum?: number };
  /** TTL of the NSEC3PARAM record (default 0, as RFC 5155 section 4 suggests). */
  readonly nsec3paramTtl?: number;
  /**
   * The DNSKEY RRset to publish (RDATA); default the signing keys'. Keys in the zone that do
   * not sign (a pre-published or a retiring ZSK) are listed here beside those that do.
   */
  readonly dnskeys?: readonly Uint8Array[];
  /** Signatures asked for and not yet emitted before the signer waits (default 2048, see DEFAULT_WINDOW). */
  readonly window?: number;
  /** Signatures made ahead (a Presigner fed while the zone was read), used where they sign exactly what is signed here. */
  readonly presigned?: Presigned;
  /**
   * Expirations moved earlier by up to this much, spread over the RRsets (see
   * spreadExpiration; the policy's `signatures.jitter`); default 0.
   */
  readonly jitter?: number;
  /**
   * Keep the signatures of `previous` (the version served now) that sign exactly what is
   * signed here, by a key that signs here, and have more than `refresh` seconds left at
   * `now` (the policy's `signatures.refresh`, Knot's rrsig-refresh, OpenDNSSEC's Refresh):
   * a re-sign then re-makes only what is due, and IXFR carries only that.
   */
  readonly keep?: { readonly previous: ZoneVersion; readonly refresh: number; readonly now: UnixSeconds };
  /**
   * The signer is the zone's last reader (Zone.takeNodes): each name is let go once it is
   * signed and written, so that a large zone's memory is given back as it goes; the zone
   * holds none after. Default: the zone is only read.
   */
  readonly consume?: boolean;
  /**
   * Told how far the signing has got: after each batch of names written out (about every
   * `window / 2` signatures) and once at the end, never per record. Counters only: the caller
   * measures the time. The object passed is the signer's own and changes as it goes.
   */
  readonly progress?: (progress: SignProgress) => void;
}

/** How far a signing has got (SignZoneOptions.progress). */
export interface SignProgress {
  /** Records of the input walked so far, and how many it has. */
  readonly recordsRead: number;
  readonly recordsTotal: number;
  /** Names of the signed zone written out so far, and how many it will have (NSEC3 names estimated until all are known). */
  readonly names: number;
  readonly namesTotal: number;
  /** Records written out so far (RRSIG, NSEC and NSEC3 included). */
  readonly records: number;
  /** Signatures written out so far. */
  readonly signatures: number;
}

export interface SignSummary {
  readonly nodes: number;
  readonly records: number;
  /** Signatures made. */
  readonly signatures: number;
  /** Signatures of the previous version kept (SignZoneOptions.keep). */
  readonly kept?: number;
}

interface PlannedSet {
  readonly set: RRsetView;
  readonly ttl: number;
  readonly signers: readonly SigningKey[];
}

interface SignatureRequest {
  readonly set: PlannedSet;
  readonly key: SigningKey;
  readonly labels: number;
  /** The expiration with jitter; undefined: the run's. */
  readonly expiration: number | undefined;
  /** A whole RRSIG of the previous version, kept (SignZoneOptions.keep). */
  readonly kept?: Uint8Array;
}

/**
 * A name whose signatures are on their way: each arrives in its slot (the order of
 * `requests`) through Signer.signTo, without a promise for each.
 */
class PendingNode implements SignatureSink {
  /** What is signed, in slot order (none: a name of glue or of unsigned sets). */
  readonly requests: SignatureRequest[] = [];
  readonly signatures: Uint8Array[] = [];
  /** The first error of a signature, wrapped: whatever was thrown. */
  failure: { readonly error: unknown } | undefined;
  private remaining = 0;
  private waiter: (() => void) | undefined;

  constructor(
    readonly name: Name,
    readonly sets: readonly PlannedSet[],
  ) {}

  /** The slot of a signature about to be asked for (signers answer only after they return). */
  expect(request: SignatureRequest): number {
    this.remaining++;
    return this.requests.push(request) - 1;
  }

  /** A signature kept from the previous version: nothing to wait for. */
  keep(request: SignatureRequest): void {
    this.requests.push(request);
  }

  signed(slot: number, signature: Uint8Array): void {
    this.signatures[slot] = signature;
    if (--this.remaining === 0) this.wake();
  }

  failed(error: unknown): void {
    this.failure ??= { error };
    this.wake();
  }

  /** Undefined when every signature is in or one failed; else a promise of when that is so. */
  settled(): Promise<void> | undefined {
    if (this.remaining === 0 || this.failure !== undefined) return undefined;
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}

/** RFC 8078 section 4: key tag 0, algorithm 0, digest type 0, digest 0x00; and flags 0, protocol 3, algorithm 0, key 0x00. */
const CDS_DELETE = new Uint8Array([0, 0, 0, 0, 0]);
const CDNSKEY_DELETE = new Uint8Array([0, 0, 3, 0, 0]);

/**
 * Signatures requested but not yet written out, before the signer waits for the oldest (and
 * then emits until half are left). Names are written in order, so a thread held up (by the
 * scheduler: two signing threads, the main thread and the collector's share two cores here)
 * holds up the emitting, and the other thread must find work queued meanwhile: with 512 (two
 * threads' 256 in flight, and as many queued) the cores were idle 4.4-4.9% of a 100k-record
 * run, with 2048 3.6%. More keeps more objects alive through each young-generation collection.
 */
const DEFAULT_WINDOW = 2048;

/**
 * Signs a zone (RFC 4035 section 2): DNSKEY at the apex signed by the KSKs (or CSK), every
 * other authoritative RRset by the ZSKs (or CSK), delegation NS and glue left unsigned, DS at
 * a cut signed, and the NSEC or NSEC3 chain with TTL min(SOA MINIMUM, SOA TTL) (RFC 9077,
 * DP-4.5d). DNSSEC records in the input are replaced. A pure function of its inputs: the
 * time comes in as inception and expiration.
 *
 * The signed zone is handed to `emit` a name at a time, so that a large zone is never held
 * twice: the apex first, then every name in canonical order (glue included, each NSEC at its
 * name; the RRSIGs at a name form one RRset of their own, as in a Zone), then, with NSEC3,
 * the NSEC3 names in hash order. Signatures are asked for many at a
 * time (an HSM's sessions all have work) and names are emitted in order as theirs arrive.
 */
export async function signZoneTo(zone: Zone, options: SignZoneOptions, emit: (node: NodeView) => void): Promise<SignSummary> {
  const apex = zone.origin;
  const soaSet = zone.soa;
  if (soaSet === undefined || soaSet.records.length !== 1) throw new SignerError('DNSSEC', `zone ${apex.toString()}: one SOA is needed to sign`);
  if (options.expiration <= options.inception) throw new SignerError('DNSSEC', 'signature expiration is not after inception');
  const ksks = options.keys.filter((k) => k.role !== 'zsk');
  const zsks = options.keys.filter((k) => k.role !== 'ksk');
  if (ksks.length === 0 || zsks.length === 0) throw new SignerError('DNSSEC', 'signing needs a KSK and a ZSK, or a CSK');

  const soaRr = soaSet.records[0]!;
  const soaRdata = withSoaFields(soaRr.rdata, options.serial, options.soa ?? {});
  const soaTtl = options.soa?.ttl ?? soaRr.ttl;
  const denialTtl = Math.min(decodeSoa(soaRdata).minimum, soaTtl);
  const headers = new Map(
    options.keys.map((k) => [
      k,
      new RrsigHeaderTemplate({
        algorithm: k.signer.algorithm,
        expiration: options.expiration >>> 0,
        inception: options.inception >>> 0,
        keyTag: k.signer.keyTag,
        signer: apex,
      }),
    ]),
  );
  const headerLength = headers.get(options.keys[0]!)!.length;

  /** The RRsets a name has in the signed zone (without NSEC), and who signs each. */
  const plan = (node: ZoneNode, isApex: boolean, isDelegation: boolean): PlannedSet[] => {
    const out: PlannedSet[] = [];
    const add = (set: RRsetView, signers: readonly SigningKey[]): void => {
      out.push({ set, ttl: set.records[0]!.ttl, signers: isDelegation && set.type !== RRType.DS ? [] : signers });
    };
    for (const set of node.rrsets) {
      const isCds = set.type === RRType.CDS || set.type === RRType.CDNSKEY;
      if (DNSSEC_TYPES.has(set.type) && (!isCds || options.cds !== undefined)) continue;
      const ttl = minTtl(set.records);
      let records: readonly RecordView[] = set.records;
      if (set.type === RRType.SOA) records = [{ ttl: soaTtl, rdata: soaRdata }];
      else if (!set.records.every((r) => r.ttl === ttl)) records = set.records.map((r) => ({ ttl, rdata: r.rdata }));
      add({ owner: set.owner, type: set.type, records }, isCds ? ksks : zsks);
    }
    if (isApex) {
      const ttl = options.dnskeyTtl ?? soaTtl;
      const at = (type: number, rdatas: readonly Uint8Array[]): RRsetView => ({ owner: apex, type, records: rdatas.map((rdata) => ({ ttl, rdata })) });
      add(at(RRType.DNSKEY, uniqueBy([...options.keys.map((k) => k.signer.dnskey), ...(options.dnskeys ?? [])])), ksks);
      if (options.cds?.delete === true) {
        add(at(RRType.CDS, [CDS_DELETE]), ksks);
        add(at(RRType.CDNSKEY, [CDNSKEY_DELETE]), ksks);
      } else if (options.cds !== undefined) {
        const kskKeys = uniqueBy(options.cds.dnskeys !== undefined ? [...options.cds.dnskeys] : ksks.map((k) => k.signer.dnskey));
        add(
          at(
            RRType.CDS,
            kskKeys.flatMap((dnskey) => options.cds!.digestTypes.map((d) => makeDs(apex, dnskey, d))),
          ),
          ksks,
        );
        add(at(RRType.CDNSKEY, kskKeys), ksks);
      }
      if (options.denial.kind === 'nsec3')
        add({ owner: apex, type: RRType.NSEC3PARAM, records: [{ ttl: options.nsec3paramTtl ?? 0, rdata: nsec3ParamRdata(options.denial) }] }, zsks);
      out.sort((a, b) => a.set.type - b.set.type);
    }
    return out;
  };

  // the names of the chain, with their types and whether they are delegations; NSEC needs
  // them before it signs (each NSEC names the next name), NSEC3 hashes them as it signs
  // and makes its records one at a time at the end
  const chain: ChainName[] = [];
  const nsec3 = options.denial.kind === 'nsec3' ? new Nsec3Chain(apex, options.denial) : undefined;
  const chainName = (node: ZoneNode, kind: NodeKind, sets: readonly PlannedSet[]): void => {
    if (sets.length === 0) return;
    // at a delegation the parent is authoritative for NS and DS only: other data there (an
    // address at the cut) is no type of the name's NSEC or NSEC3 bitmap (RFC 4035 section 2.3)
    const types =
      kind === 'delegation' ? sets.flatMap((p) => (p.set.type === RRType.NS || p.set.type === RRType.DS ? [p.set.type] : [])) : sets.map((p) => p.set.type);
    const c = { name: node.name, types, isDelegation: kind === 'delegation' };
    if (nsec3 !== undefined) nsec3.add(c);
    else chain.push(c);
  };
  let nsec: DenialRecord[] = [];
  if (options.denial.kind === 'nsec') {
    for (const [node, kind] of walk(zone.nodes, apex)) if (kind !== 'glue') chainName(node, kind, plan(node, kind === 'apex', kind === 'delegation'));
    nsec = buildNsecChain(chain);
    chain.length = 0;
  }
  const nodeCount = zone.nodes.length;
  // the second pass's names: the zone's own array, or one whose names are let go as they are walked
  const nodes = options.consume === true ? zone.takeNodes('the signer') : zone.nodes;

  // second pass: sign and emit in order
  // counters for a caller that reports progress (moved per batch, not per record)
  const report = options.progress;
  const progress = { recordsRead: 0, recordsTotal: zone.recordCount, names: 0, namesTotal: nodeCount, records: 0, signatures: 0 };
  let walked = 0;
  const window = options.window ?? DEFAULT_WINDOW;
  const pending: PendingNode[] = [];
  let outstanding = 0;
  const summary = { nodes: 0, records: 0, signatures: 0, kept: 0 };
  const scratch = new ByteWriter(1024);
  const noHeader = new Uint8Array(headerLength);
  const presigned = options.presigned;
  const jitter = options.jitter ?? 0;
  const keeper = options.keep === undefined ? undefined : new KeptSignatures(options.keep, apex, options.keys);
  const request = (name: Name, sets: PlannedSet[]): void => {
    const node = new PendingNode(name, sets);
    for (const planned of sets) {
      if (planned.signers.length === 0) continue;
      const { owner, type, records } = planned.set;
      const labels = rrsigLabels(owner);
      // the signing input (RFC 4034 section 3.1.8.1): each key's RRSIG header, then the
      // RRset; a signer reads it before sign returns, so one buffer serves every input
      scratch.reset();
      scratch.bytes(noHeader);
      writeCanonicalRRset(scratch, labels, owner, type, planned.ttl, records);
      const input = scratch.view();
      const expiration = jitter > 0 ? spreadExpiration(options.expiration >>> 0, jitter, owner, type, options.inception >>> 0) : undefined;
      const previous = keeper?.previousSignatures(owner, type, labels, planned.ttl, input.subarray(headerLength));
      for (const key of planned.signers) {
        const kept = previous === undefined ? undefined : keeper!.find(previous, key, type, labels, planned.ttl);
        if (kept !== undefined) {
          node.keep({ set: planned, key, labels, expiration, kept });
          continue;
        }
        headers.get(key)!.writeInto(input, 0, type, labels, planned.ttl, expiration);
        const slot = node.expect({ set: planned, key, labels, expiration });
        if (presigned?.take(owner, type, key, input, node, slot) === true) continue;
        const signer = key.signer;
        if (signer.signTo !== undefined) signer.signTo(input, node, slot);
        else
          signer.sign(input).then(
            (signature) => node.signed(slot, signature),
            (e: unknown) => node.failed(e),
          );
      }
    }
    outstanding += node.requests.length;
    pending.push(node);
  };
  /** Emits the oldest name, whose signatures are all in (see PendingNode.settled). */
  const emitOldest = (): void => {
    const node = pending.shift()!;
    if (node.failure !== undefined) throw node.failure.error;
    const signatures = node.signatures;
    const count = node.requests.length;
    outstanding -= count;
    const rrsets = node.sets.map((p) => p.set);
    let kept = 0;
    if (count > 0) {
      const rrsigs = node.requests.map(({ set, key, labels, expiration, kept: whole }, i) => {
        if (whole !== undefined) {
          kept++;
          return { ttl: set.ttl, rdata: whole };
        }
        const signature = signatures[i]!;
        const rdata = Buffer.allocUnsafe(headerLength + signature.length);
        headers.get(key)!.writeInto(rdata, 0, set.set.type, labels, set.ttl, expiration);
        rdata.set(signature, headerLength);
        return { ttl: set.ttl, rdata };
      });
      rrsets.push({ owner: rrsets[0]!.owner, type: RRType.RRSIG, records: rrsigs });
      sortByType(rrsets);
    }
    summary.nodes++;
    for (const set of rrsets) summary.records += set.records.length;
    summary.signatures += count - kept;
    summary.kept += kept;
    emit({ name: node.name, rrsets });
  };
  const drainTo = async (limit: number): Promise<void> => {
    while (pending.length > 0 && outstanding > limit) {
      const settled = pending[0]!.settled();
      if (settled !== undefined) await settled;
      emitOldest();
    }
    // names without signatures (glue) behind the oldest waiting name go as soon as it has
    while (pending.length > 0 && pending[0]!.requests.length === 0) emitOldest();
    if (report !== undefined) {
      progress.names = summary.nodes;
      progress.records = summary.records;
      progress.signatures = summary.signatures;
      // NSEC3 names to come: as many per input name as so far, until the walk is over
      if (nsec3 !== undefined) progress.namesTotal = nodeCount + (walked === 0 ? 0 : Math.round((nsec3.size * nodeCount) / walked));
      report(progress);
    }
  };

  let at = 0;
  const denialSet = (d: DenialRecord): PlannedSet => ({
    set: { owner: d.owner, type: d.type, records: [{ ttl: denialTtl, rdata: d.rdata }] },
    ttl: denialTtl,
    signers: zsks,
  });
  report?.(progress);
  for (const [node, kind] of walk(nodes, apex, options.consume === true)) {
    walked++;
    if (report !== undefined) for (const set of node.rrsets) progress.recordsRead += set.records.length;
    if (kind === 'glue') {
      request(
        node.name,
        node.rrsets.map((set) => ({ set, ttl: minTtl(set.records), signers: [] })),
      );
    } else {
      const sets = plan(node, kind === 'apex', kind === 'delegation');
      if (options.denial.kind === 'nsec3') chainName(node, kind, sets);
      else if (sets.length > 0) sets.push(denialSet(nsec[at++]!));
      if (sets.length > 0) request(node.name, sets);
    }
    if (outstanding > window) await drainTo(window / 2);
  }
  if (nsec3 !== undefined) {
    progress.namesTotal = nodeCount + nsec3.size;
    for (const d of nsec3.records()) {
      request(d.owner, [denialSet(d)]);
      if (outstanding > window) await drainTo(window / 2);
    }
  }
  await drainTo(-1);
  progress.recordsRead = progress.recordsTotal;
  progress.namesTotal = progress.names;
  report?.(progress);
  return summary;
}

/** signZoneTo, collected into a Zone: for tests and small zones. */
export async function signZone(zone: Zone, options: SignZoneOptions): Promise<Zone> {
  const builder = new ZoneBuilder(zone.origin);
  await signZoneTo(zone, options, (node) => {
    for (const set of node.rrsets)
      for (const r of set.records) builder.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: '(signed)', line: 0 });
  });
  return builder.freeze();
}

/**
 * The signatures of the previous version a re-sign may keep (SignZoneOptions.keep): over an
 * RRset whose canonical form is exactly the one signed now, by a key that signs now, valid
 * at `now` and with more than `refresh` left. A key is trusted by tag and algorithm only
 * when the previous version's DNSKEY set holds it and no other key with that tag and
 * algorithm, and no two keys signing now share them: the RRSIG then came from this key.
 */
class KeptSignatures {
  private readonly scratch = new ByteWriter(1024);
  private readonly trusted: ReadonlySet<SigningKey>;
  private readonly keepAfter: number;

  constructor(
    private readonly keep: NonNullable<SignZoneOptions['keep']>,
    private readonly apex: Name,
    keys: readonly SigningKey[],
  ) {
    const tagOf = (algorithm: number, tag: number): string => `${algorithm}/${tag}`;
    const published = keep.previous.rrset(apex, RRType.DNSKEY)?.records.map((r) => r.rdata) ?? [];
    const count = new Map<string, number>();
    for (const k of published) {
      const t = tagOf(k[3]!, keyTag(k));
      count.set(t, (count.get(t) ?? 0) + 1);
    }
    const signing = new Map<string, number>();
    for (const k of keys) signing.set(tagOf(k.signer.algorithm, k.signer.keyTag), (signing.get(tagOf(k.signer.algorithm, k.signer.keyTag)) ?? 0) + 1);
    this.trusted = new Set(
      keys.filter((k) => {
        const t = tagOf(k.signer.algorithm, k.signer.keyTag);
        return count.get(t) === 1 && signing.get(t) === 1 && published.some((p) => compareBytes(p, k.signer.dnskey) === 0);
      }),
    );
    this.keepAfter = keep.now + keep.refresh;
  }

  /** The previous version's RRSIGs at `owner` if its `type` RRset was exactly `rrset` (canonical form, after the header); else undefined. */
  previousSignatures(owner: Name, type: number, labels: number, ttl: number, rrset: Uint8Array): readonly RecordView[] | undefined {
    if (this.trusted.size === 0) return undefined;
    const node = this.keep.previous.get(owner);
    if (node === undefined) return undefined;
    const sigs = node.rrsets.find((s) => s.type === RRType.RRSIG);
    const set = node.rrsets.find((s) => s.type === type);
    if (sigs === undefined || set === undefined || !set.records.every((r) => r.ttl === ttl)) return undefined;
    this.scratch.reset();
    writeCanonicalRRset(this.scratch, labels, owner, type, ttl, set.records);
    return compareBytes(this.scratch.view(), rrset) === 0 ? sigs.records : undefined;
  }

  /** The RRSIG among `rrsigs` that `key` made over the RRset and that may stay. */
  find(rrsigs: readonly RecordView[], key: SigningKey, type: number, labels: number, ttl: number): Uint8Array | undefined {
    if (!this.trusted.has(key)) return undefined;
    for (const { rdata } of rrsigs) {
      const sig = decodeRrsig(rdata);
      if (sig.typeCovered !== type || sig.algorithm !== key.signer.algorithm || sig.keyTag !== key.signer.keyTag) continue;
      if (sig.labels !== labels || sig.originalTtl !== ttl || !sig.signer.equals(this.apex)) continue;
      if (sig.inception <= this.keep.now && sig.expiration > this.keepAfter) return rdata;
    }
    return undefined;
  }
}

type NodeKind = 'apex' | 'delegation' | 'authoritative' | 'glue';

/**
 * Every name of a zone (`nodes`, in canonical order) with what it is: data below a cut is
 * glue. With `letGo` each name leaves the array as it is handed out (its walker holds it).
 */
function* walk(nodes: readonly (ZoneNode | undefined)[], apex: Name, letGo = false): Generator<[ZoneNode, NodeKind]> {
  let cut: Name | undefined;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    if (letGo) (nodes as (ZoneNode | undefined)[])[i] = undefined;
    const name = node.name;
    if (cut !== undefined && name.isSubdomainOf(cut) && !name.equals(cut)) {
      yield [node, 'glue'];
      continue;
    }
    const isApex = name.equals(apex);
    const isDelegation = !isApex && node.rrsets.some((s) => s.type === RRType.NS);
    cut = isDelegation ? name : undefined;
    yield [node, isApex ? 'apex' : isDelegation ? 'delegation' : 'authoritative'];
  }
}

/** Sorts a name's few RRsets by type, in place (stable; Array.prototype.sort makes garbage). */
function sortByType(sets: RRsetView[]): void {
  for (let i = 1; i < sets.length; i++) {
    const set = sets[i]!;
    let j = i - 1;
    while (j >= 0 && sets[j]!.type > set.type) {
      sets[j + 1] = sets[j]!;
      j--;
    }
    sets[j + 1] = set;
  }
}

/** The SOA RDATA with the serial and the fields a policy forces replaced (its last 20 octets). */
export function withSoaFields(soaRdata: Uint8Array, serial: number | undefined, fields: NonNullable<SignZoneOptions['soa']>): Uint8Array {
  const copy = Uint8Array.from(soaRdata);
  const view = new DataView(copy.buffer, copy.byteOffset, copy.length);
  const at = copy.length - 20;
  if (serial !== undefined) view.setUint32(at, serial >>> 0);
  if (fields.refresh !== undefined) view.setUint32(at + 4, fields.refresh);
  if (fields.retry !== undefined) view.setUint32(at + 8, fields.retry);
  if (fields.expire !== undefined) view.setUint32(at + 12, fields.expire);
  if (fields.minimum !== undefined) view.setUint32(at + 16, fields.minimum);
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
