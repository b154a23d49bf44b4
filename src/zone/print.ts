import { toBase64 } from '../dns/bytes.js';
import { recordPrefix, recordPrefixText } from '../dns/zonefile/printer.js';
import { formatRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';
import type { Name } from '../dns/name.js';
import type { ZoneVersion } from './version.js';
import type { RRsetView } from './zone.js';

/**
 * The zone as master-file lines in canonical order (RFC 4034 section 6): the apex SOA first,
 * then every name in canonical order, RRsets by type, records in canonical RDATA order.
 */
export function* printZone(zone: ZoneVersion): Generator<string> {
  const soa = zone.soa;
  if (soa !== undefined) yield* printRRset(soa);
  for (const set of zone.rrsets()) {
    if (set.type === RRType.SOA && set.owner.equals(zone.origin)) continue;
    yield* printRRset(set);
  }
}

/** One name's RRsets as master-file lines, by type (the SOA first, for an apex). */
export function* printNode(rrsets: readonly RRsetView[]): Generator<string> {
  const soa = rrsets.find((set) => set.type === RRType.SOA);
  if (soa !== undefined) yield* printRRset(soa);
  for (const set of rrsets) if (set !== soa) yield* printRRset(set);
}

/** printNode's lines as one text, joined by newlines: printNodeTo into a string. */
export function printNodeText(rrsets: readonly RRsetView[]): string {
  const lines: string[] = [];
  let line = '';
  printNodeTo(rrsets, {
    text: (text) => {
      line += text;
    },
    base64: (octets) => {
      line += toBase64(octets);
    },
    endLine: () => {
      lines.push(line);
      line = '';
    },
  });
  return lines.join('\n');
}

/** Where printNodeTo writes: lines a piece at a time (AtomicZoneFile is one). */
export interface TextSink {
  text(text: string): void;
  /** Octets as base64, as toBase64 writes them. */
  base64(octets: Uint8Array): void;
  endLine(): void;
}

/**
 * printNode's lines written into `sink` piece by piece, as a signer writes each name of a
 * large zone: without a generator, no line joined into a string of its own, RRSIG signatures
 * never a string at all, and RRSIG and NSEC3 texts made by putting the record's own signature
 * or hash between texts formatted once for the many records that share the rest (see
 * DnssecTexts).
 */
export function printNodeTo(rrsets: readonly RRsetView[], sink: TextSink): void {
  let soa: RRsetView | undefined;
  for (const set of rrsets) {
    if (set.type !== RRType.SOA) continue;
    soa = set;
    printSetTo(set, sink);
  }
  for (const set of rrsets) if (set !== soa) printSetTo(set, sink);
}

function printSetTo(set: RRsetView, sink: TextSink): void {
  const owner = ownerText(set.owner);
  for (const rr of set.records) {
    sink.text(owner);
    sink.text(afterOwner(set.type, rr.ttl));
    texts.write(set.type, rr.rdata, sink);
    sink.endLine();
  }
}

function* printRRset(set: RRsetView): Generator<string> {
  const prefix = recordPrefix(set.owner, set.type);
  for (const rr of set.records) yield `${prefix(rr.ttl)}${formatRdata(set.type, rr.rdata)}`;
}

let lastOwner = '';
let lastOwnerText = '';

/** The owner's text, kept while the same owner's RRsets (and their RRSIGs) come by. */
function ownerText(owner: Name): string {
  if (owner.wire !== lastOwner) {
    lastOwner = owner.wire;
    lastOwnerText = owner.toString();
  }
  return lastOwnerText;
}

/** recordPrefix's text after the owner, by type and TTL (a zone has few of these). */
const afterOwnerTexts = new Map<number, string>();

function afterOwner(type: number, ttl: number): string {
  const key = type * 2 ** 32 + ttl;
  let text = afterOwnerTexts.get(key);
  if (text === undefined) {
    if (afterOwnerTexts.size >= 4096) afterOwnerTexts.clear();
    text = recordPrefixText('', type, ttl);
    afterOwnerTexts.set(key, text);
  }
  return text;
}

interface Shared {
  /** The RDATA octets the text depends on, other than the varying part. */
  readonly key: Uint8Array;
  readonly before: string;
  readonly after: string;
}

/**
 * RDATA text of a signed zone's most common records, exactly as formatRdata writes it: an
 * RRSIG is its header (the same for every RRset of a type and owner depth) then the base64
 * signature; an NSEC3 is its parameters, the next hash in base32hex, then its types (a few
 * sets for a whole zone). The shared texts are made by formatRdata itself, the first time
 * their octets are met, and a few dozen are kept.
 */
class DnssecTexts {
  private readonly shared: Shared[] = [];
  private next = 0;

  write(type: number, rdata: Uint8Array, sink: TextSink): void {
    if (type === RRType.RRSIG) this.rrsig(rdata, sink);
    else if (type === RRType.NSEC3) this.nsec3(rdata, sink);
    else sink.text(formatRdata(type, rdata));
  }

  private rrsig(rdata: Uint8Array, sink: TextSink): void {
    // the header: 18 octets, then the signer's name (uncompressed)
    let end = 18;
    while (end < rdata.length && rdata[end] !== 0) end += rdata[end]! + 1;
    end++;
    if (end >= rdata.length) {
      sink.text(formatRdata(RRType.RRSIG, rdata));
      return;
    }
    const hit = this.find(rdata, 0, end, 0, 0);
    if (hit !== undefined) {
      sink.text(hit.before);
      sink.base64(rdata.subarray(end));
      return;
    }
    const signature = toBase64(rdata.subarray(end));
    const full = formatRdata(RRType.RRSIG, rdata);
    if (full.endsWith(` ${signature}`)) this.keep(rdata.slice(0, end), full.slice(0, full.length - signature.length), '');
    sink.text(full);
  }

  private nsec3(rdata: Uint8Array, sink: TextSink): void {
    // hash algorithm, flags, iterations, salt; the next hash; the type bitmap
    const saltEnd = 5 + (rdata[4] ?? 0);
    const hashEnd = saltEnd + 1 + (rdata[saltEnd] ?? 0);
    if (hashEnd > rdata.length) {
      sink.text(formatRdata(RRType.NSEC3, rdata));
      return;
    }
    const hash = base32Hex(rdata, saltEnd + 1, hashEnd);
    const hit = this.find(rdata, 0, saltEnd + 1, hashEnd, rdata.length);
    if (hit !== undefined) {
      sink.text(hit.before);
      sink.text(hash);
      sink.text(hit.after);
      return;
    }
    const full = formatRdata(RRType.NSEC3, rdata);
    const fields = full.split(' ');
    const before = `${fields.slice(0, 4).join(' ')} `;
    if (fields[4] === hash && full.startsWith(before + hash)) {
      const key = new Uint8Array(saltEnd + 1 + rdata.length - hashEnd);
      key.set(rdata.subarray(0, saltEnd + 1));
      key.set(rdata.subarray(hashEnd), saltEnd + 1);
      this.keep(key, before, full.slice(before.length + hash.length));
    }
    sink.text(full);
  }

  /** The shared text whose key is rdata[a..b) followed by rdata[c..d). */
  private find(rdata: Uint8Array, a: number, b: number, c: number, d: number): Shared | undefined {
    const length = b - a + d - c;
    for (const s of this.shared) {
      const k = s.key;
      if (k.length !== length) continue;
      let same = true;
      for (let i = a; same && i < b; i++) same = k[i - a] === rdata[i];
      for (let i = c; same && i < d; i++) same = k[b - a + i - c] === rdata[i];
      if (same) return s;
    }
    return undefined;
  }

  private keep(key: Uint8Array, before: string, after: string): void {
    const s = { key, before, after };
    if (this.shared.length < 64) this.shared.push(s);
    else this.shared[this.next++ % 64] = s;
  }
}

const texts = new DnssecTexts();

const BASE32HEX = '0123456789ABCDEFGHIJKLMNOPQRSTUV';
const BASE32_OUT = Buffer.alloc(512);

/** rdata[from..to) in base32hex without padding, as encodeBase32Hex writes it: one flat string. */
function base32Hex(rdata: Uint8Array, from: number, to: number): string {
  let at = 0;
  let buffer = 0;
  let bits = 0;
  for (let i = from; i < to; i++) {
    buffer = ((buffer << 8) | rdata[i]!) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      BASE32_OUT[at++] = BASE32HEX.charCodeAt((buffer >>> bits) & 31);
    }
  }
  if (bits > 0) BASE32_OUT[at++] = BASE32HEX.charCodeAt((buffer << (5 - bits)) & 31);
  return BASE32_OUT.toString('latin1', 0, at);
}

/** One record as a master-file line (a record of a diff, say). */
export function printRecord(record: { readonly owner: RRsetView['owner']; readonly type: number; readonly ttl: number; readonly rdata: Uint8Array }): string {
  return `${recordPrefix(record.owner, record.type)(record.ttl)}${formatRdata(record.type, record.rdata)}`;
}
