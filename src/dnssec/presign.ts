import type { UnixSeconds } from '../common/clock.js';
import { ByteWriter, compareBytes } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { DNSSEC_TYPES, RRType } from '../dns/types.js';
import { minTtl, RrsigHeaderTemplate, rrsigLabels, spreadExpiration, writeCanonicalRRset } from './rrsig.js';
import type { SignatureSink, SigningKey } from './signer.js';

/** Signatures made ahead of signZoneTo, which takes them where they fit (SignZoneOptions.presigned). */
export interface Presigned {
  /**
   * If a signature by `key` over exactly the octets of `input` was made ahead, it goes to
   * `sink` with `slot` (now, or when it arrives) and the answer is true; else false, and
   * nothing is sent.
   */
  take(owner: Name, type: number, key: SigningKey, input: Uint8Array, sink: SignatureSink, slot: number): boolean;
}

/** A record as the zone file parser gives it. */
interface ParsedRecord {
  readonly owner: Name;
  readonly type: number;
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

/** A signature asked for ahead: its input, and the signature or the one waiting for it. */
class Ahead implements SignatureSink {
  private signature: Uint8Array | undefined;
  private to: { readonly sink: SignatureSink; readonly slot: number } | undefined;
  failure: { readonly error: unknown } | undefined;

  constructor(
    readonly key: SigningKey,
    readonly input: Uint8Array,
    private readonly answered: () => void,
  ) {}

  signed(_slot: number, signature: Uint8Array): void {
    this.answered();
    if (this.to === undefined) this.signature = signature;
    else this.to.sink.signed(this.to.slot, signature);
  }

  failed(error: unknown): void {
    this.answered();
    if (this.to === undefined) this.failure = { error };
    // taken already: asked again, as signZoneTo would have (a failing HSM fails it again)
    else this.key.signer.signTo!(this.input, this.to.sink, this.to.slot);
  }

  handTo(sink: SignatureSink, slot: number): void {
    if (this.signature !== undefined) sink.signed(slot, this.signature);
    else this.to = { sink, slot };
  }
}

/**
 * Signs RRsets while the zone file is still being read, so that the signing threads have work
 * from the start. `hms sign` of 100k records here: the threads are ready 0.5 s into the run
 * and the file is read by 2.0 s, one of two cores mostly idle meanwhile. Signed ahead, 2,816
 * to 3,264 signatures were asked for in that time (3 runs), all used, and the cores' idle
 * time over the run fell from 4.15-4.51 to 3.55-4.14 core-seconds (3 runs each, wall
 * 47.1-48.2 s before, 46.9-47.7 s after; the same signed file).
 *
 * It sees the records in file order and takes each run of records of one owner and type for
 * a whole RRset, signed by the ZSKs (or CSK) as signZoneTo would sign it; SOA, NS, DNSSEC
 * types and the names at and below a cut seen so far are left out.
 *
 * A guess can be wrong (an RRset whose records are spread over the file, a cut named after
 * its glue): signZoneTo uses a signature made here only for exactly the octets it would
 * sign itself, header (times, key tag, labels, TTL) included, and signs anew otherwise.
 * At most `inFlight` signatures are asked for and not yet answered (an RRset read meanwhile
 * is signed later, with the rest): the threads have work while the file is read, and at its
 * end no more than that is left for them before signZoneTo's first requests.
 */
export class Presigner implements Presigned {
  private readonly made = new Map<string, Ahead[]>();
  private readonly cuts = new Set<string>();
  private readonly scratch = new ByteWriter(1024);
  private keys: { readonly key: SigningKey; readonly header: RrsigHeaderTemplate }[] = [];
  private run: ParsedRecord[] = [];
  private waiting = 0;
  /** Signatures made ahead that signZoneTo took. */
  used = 0;
  private readonly answered = (): void => {
    this.waiting--;
  };

  /**
   * `times` as signZoneTo is given them (SignZoneOptions inception, expiration and jitter): a
   * signature made ahead carries the header signZoneTo would write.
   */
  constructor(
    private readonly origin: Name,
    private readonly times: { readonly inception: UnixSeconds; readonly expiration: UnixSeconds; readonly jitter?: number },
    private readonly inFlight = 1024,
  ) {}

  /** The keys that sign the zone data (ZSKs or CSK), once they can sign; records seen before are not signed ahead. */
  start(keys: readonly SigningKey[]): void {
    this.keys = keys
      .filter((k) => k.role !== 'ksk' && k.signer.signTo !== undefined)
      .map((key) => ({
        key,
        header: new RrsigHeaderTemplate({
          algorithm: key.signer.algorithm,
          expiration: this.times.expiration >>> 0,
          inception: this.times.inception >>> 0,
          keyTag: key.signer.keyTag,
          signer: this.origin,
        }),
      }));
  }

  /** The next record of the file. */
  add(record: ParsedRecord): void {
    const last = this.run[this.run.length - 1];
    if (last !== undefined && (last.type !== record.type || !last.owner.equals(record.owner))) this.endRun();
    this.run.push(record);
  }

  /** The end of the file: the last run is signed too. */
  finish(): void {
    this.endRun();
  }

  private endRun(): void {
    const run = this.run;
    this.run = [];
    if (run.length === 0) return;
    const { owner, type } = run[0]!;
    if (type === RRType.NS && !owner.equals(this.origin)) this.cuts.add(owner.key);
    if (this.keys.length === 0 || this.waiting >= this.inFlight) return;
    if (type === RRType.SOA || type === RRType.NS || DNSSEC_TYPES.has(type) || (type !== RRType.DS && this.belowCut(owner))) return;
    const ttl = minTtl(run);
    const labels = rrsigLabels(owner);
    // the signing input as signZoneTo writes it: room for the header, the RRset once, then
    // each key's header in a copy
    const w = this.scratch;
    w.reset();
    w.bytes(new Uint8Array(this.keys[0]!.header.length));
    writeCanonicalRRset(w, labels, owner, type, ttl, run);
    const jitter = this.times.jitter ?? 0;
    const expiration = jitter > 0 ? spreadExpiration(this.times.expiration >>> 0, jitter, owner, type, this.times.inception >>> 0) : undefined;
    for (const { key, header } of this.keys) {
      const input = w.view().slice();
      header.writeInto(input, 0, type, labels, ttl, expiration);
      const ahead = new Ahead(key, input, this.answered);
      const id = `${owner.key}/${type}`;
      const list = this.made.get(id);
      if (list === undefined) this.made.set(id, [ahead]);
      else list.push(ahead);
      this.waiting++;
      key.signer.signTo!(input, ahead, 0);
    }
  }

  take(owner: Name, type: number, key: SigningKey, input: Uint8Array, sink: SignatureSink, slot: number): boolean {
    if (this.made.size === 0) return false;
    const id = `${owner.key}/${type}`;
    const list = this.made.get(id);
    if (list === undefined) return false;
    const i = list.findIndex((a) => a.key === key && a.failure === undefined && compareBytes(a.input, input) === 0);
    if (i < 0) return false;
    const [ahead] = list.splice(i, 1);
    if (list.length === 0) this.made.delete(id);
    this.used++;
    ahead!.handTo(sink, slot);
    return true;
  }

  /** At or below a name with NS (other than the apex) seen so far: a cut, or glue. */
  private belowCut(owner: Name): boolean {
    if (this.cuts.size === 0) return false;
    for (let n: Name | null = owner; n !== null && !n.equals(this.origin); n = n.parent()) if (this.cuts.has(n.key)) return true;
    return false;
  }
}
