import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { SignerError, WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { RRType } from '../dns/types.js';
import { rrsigExpiration, type ServedVersion } from '../zone/version.js';
import type { NodeView, RecordView, RRsetView } from '../zone/zone.js';
import { AtomicZoneFile } from './zone-files.js';

/**
 * A served version of a zone kept compactly on disk (issue 20 item 2b), beside the signed text
 * file it mirrors: the records in wire form, in blocks of about 64 KiB, each block a run of
 * whole names; a trailer holds what is asked of a version without reading its records (the
 * SOA, the DNSKEY RDATAs, the earliest expiration, the counts) and, for each block, where it
 * lies, its CRC-32 and its first name. In memory a version is that trailer alone (for a
 * 1M-record zone some 10,000 blocks); its records are read by offset as they are walked, and
 * each block read is checked against its CRC-32 (a damaged one is never served).
 *
 * Names come in the order the signer hands them out: the zone's names in canonical order, then
 * (NSEC3) the hashed names in theirs. Each such ascending stretch is a run (a block never spans
 * two); readers merge the runs, so a version is walked in canonical order (RFC 4034 section 6.1).
 *
 * File: `HMSSRV01`, the blocks, the trailer, the trailer's length and CRC-32 (4 octets each),
 * `HMSSEND1`. A block: names one after another, each its owner (uncompressed wire form), the
 * number of its RRsets (2 octets), each RRset its type and number of records (2 octets each),
 * each record its TTL (4), RDATA length (2) and RDATA. Trailer: the origin (2-octet length,
 * wire form), the stamp of the text file it mirrors (2-octet length, latin1), the number of
 * records, names and blocks (4 octets each), the apex SOA's TTL (4) and RDATA (2-octet length,
 * RDATA), whether there is an RRSIG (1) and the earliest expiration (4), the number of DNSKEYs
 * (2) and each RDATA (2-octet length, RDATA); then per block its offset (8), length (4),
 * CRC-32 (4), run (4) and first owner (2-octet length, wire form). Numbers big-endian.
 */
const MAGIC = Buffer.from('HMSSRV01', 'latin1');
const END_MAGIC = Buffer.from('HMSSEND1', 'latin1');
const TAIL = 16;
const BLOCK = 64 * 1024;

interface BlockIndex {
  readonly offset: number;
  readonly length: number;
  readonly crc: number;
  readonly run: number;
  /** The canonical key of its first name. */
  readonly firstKey: string;
}

interface Summary {
  readonly origin: Name;
  readonly stamp: string;
  readonly recordCount: number;
  readonly nodeCount: number;
  readonly soa: RecordView;
  readonly expires: number | null;
  readonly dnskeys: readonly Uint8Array[];
  readonly blocks: readonly BlockIndex[];
}

/** The stamp of a file: what changes whenever another file takes its place or it is written (inode, size, mtime in ns). */
export function fileStamp(path: string): string {
  const s = statSync(path, { bigint: true });
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

/** The name of the compact file beside a signed text file. */
export function servedFileOf(signedText: string): string {
  return `${signedText}.wire`;
}

/**
 * Writes a served version as it is handed out, name by name (NodeView, in the signer's
 * order), through an AtomicZoneFile: nothing takes the place of the file before `commit`.
 */
export class ServedFileWriter {
  private readonly block = new ByteWriter(BLOCK + 4096);
  private blockFirst: string | undefined;
  /** The first name of each block (the trailer names it). */
  private readonly firstNames: Name[] = [];
  private readonly blocks: BlockIndex[] = [];
  private offset = MAGIC.length;
  private run = 0;
  private lastKey: string | undefined;
  private records = 0;
  private nodes = 0;
  private soa: RecordView | undefined;
  private expires: number | null = null;
  private dnskeys: Uint8Array[] = [];
  private readonly file: AtomicZoneFile;

  private constructor(
    readonly path: string,
    readonly origin: Name,
    private readonly blockSize: number,
  ) {
    this.file = AtomicZoneFile.open(path);
    this.file.bytes(MAGIC);
  }

  /** `blockSize`: the octets a block is closed at (default 64 KiB; tests make it small). */
  static open(path: string, origin: Name, blockSize = BLOCK): ServedFileWriter {
    return new ServedFileWriter(path, origin, blockSize);
  }

  /** One name and its RRsets (by type ascending). */
  node(node: NodeView): void {
    if (node.rrsets.length === 0) return;
    const key = node.name.canonicalKey();
    if (this.lastKey !== undefined && key <= this.lastKey) {
      // not after the name before: a new run starts, in a block of its own
      this.flush();
      this.run++;
    }
    this.lastKey = key;
    if (this.blockFirst === undefined) {
      this.blockFirst = key;
      this.firstNames.push(node.name);
    }
    const w = this.block;
    w.name(node.name);
    w.u16(node.rrsets.length);
    const isApex = node.name.equals(this.origin);
    for (const set of node.rrsets) {
      w.u16(set.type);
      w.u16(set.records.length);
      for (const r of set.records) {
        w.u32(r.ttl);
        w.u16(r.rdata.length);
        w.bytes(r.rdata);
        if (set.type === RRType.RRSIG) {
          const e = rrsigExpiration(r.rdata);
          if (this.expires === null || e < this.expires) this.expires = e;
        }
      }
      this.records += set.records.length;
      if (isApex && set.type === RRType.SOA) this.soa = { ttl: set.records[0]!.ttl, rdata: Uint8Array.from(set.records[0]!.rdata) };
      if (isApex && set.type === RRType.DNSKEY) this.dnskeys = set.records.map((r) => Uint8Array.from(r.rdata));
    }
    this.nodes++;
    if (w.length >= this.blockSize) this.flush();
  }

  private flush(): void {
    if (this.block.length === 0) return;
    const payload = this.block.view();
    this.blocks.push({ offset: this.offset, length: payload.length, crc: crc32(payload), run: this.run, firstKey: this.blockFirst! });
    this.file.bytes(payload);
    this.offset += payload.length;
    this.block.reset();
    this.blockFirst = undefined;
  }

  /**
   * Writes the trailer naming `stamp` (the signed text file's, see fileStamp) and puts the file
   * in place; the version written, opened.
   */
  commit(stamp: string): ServedFile {
    this.flush();
    if (this.soa === undefined) {
      this.file.abort();
      throw new SignerError('ZONE_CHECK', `${this.path}: zone ${this.origin.toString()} has no SOA; no served version written`);
    }
    const summary: Summary = {
      origin: this.origin,
      stamp,
      recordCount: this.records,
      nodeCount: this.nodes,
      soa: this.soa,
      expires: this.expires,
      dnskeys: this.dnskeys,
      blocks: this.blocks,
    };
    const trailer = encodeTrailer(summary, this.firstNames);
    const tail = Buffer.alloc(TAIL);
    tail.writeUInt32BE(trailer.length, 0);
    tail.writeUInt32BE(crc32(trailer), 4);
    END_MAGIC.copy(tail, 8);
    this.file.bytes(trailer);
    this.file.bytes(tail);
    this.file.commit();
    return ServedFile.open(this.path, this.origin, stamp);
  }

  abort(): void {
    this.file.abort();
  }
}

function encodeTrailer(s: Summary, firstNames: readonly Name[]): Uint8Array {
  const w = new ByteWriter(1024 + s.blocks.length * 64);
  w.u16(s.origin.length);
  w.name(s.origin);
  w.u16(s.stamp.length);
  w.latin1(s.stamp);
  w.u32(s.recordCount);
  w.u32(s.nodeCount);
  w.u32(s.blocks.length);
  w.u32(s.soa.ttl);
  w.u16(s.soa.rdata.length);
  w.bytes(s.soa.rdata);
  w.u8(s.expires === null ? 0 : 1);
  w.u32(s.expires ?? 0);
  w.u16(s.dnskeys.length);
  for (const d of s.dnskeys) {
    w.u16(d.length);
    w.bytes(d);
  }
  s.blocks.forEach((b, i) => {
    w.u32(Math.floor(b.offset / 0x1_0000_0000));
    w.u32(b.offset % 0x1_0000_0000);
    w.u32(b.length);
    w.u32(b.crc);
    w.u32(b.run);
    w.u16(firstNames[i]!.length);
    w.name(firstNames[i]!);
  });
  return w.finish();
}

/** A block's names, decoded: their canonical keys and views, in the block's order. */
interface DecodedBlock {
  readonly keys: readonly string[];
  readonly nodes: readonly NodeView[];
}

/**
 * A served version on disk (see the file format above). The file is open only while a reader
 * holds it (`retain`: a transfer, a diff, a re-sign keeping its signatures), so a service with
 * many zones holds no descriptor per zone at rest; a read without a hold opens it for that
 * read. A newer version may take the file's name while a reader holds it: the open file stays
 * readable until the last release. Opened again by name, the file must be the same (inode) one.
 */
export class ServedFile implements ServedVersion {
  readonly origin: Name;
  readonly serial: number;
  readonly expires: number | null;
  readonly dnskeys: readonly Uint8Array[];
  readonly recordCount: number;
  readonly nodeCount: number;
  readonly stamp: string;
  readonly soa: RRsetView;
  private readonly blocks: readonly BlockIndex[];
  /** The block numbers of each run, in order. */
  private readonly runs: readonly (readonly number[])[];
  /** The last block decoded for a lookup, per run, while the version is held. */
  private readonly cached: ({ at: number; block: DecodedBlock } | undefined)[];
  private fd: number | undefined;
  /** The readers holding it (retain). */
  private holders = 0;
  /** The opener let go of it (release): once no reader holds it, it is closed for good. */
  private isReleased = false;

  private constructor(
    readonly path: string,
    private readonly ino: number,
    s: Summary,
  ) {
    this.origin = s.origin;
    this.stamp = s.stamp;
    this.recordCount = s.recordCount;
    this.nodeCount = s.nodeCount;
    this.expires = s.expires;
    this.dnskeys = s.dnskeys;
    this.serial = decodeSoa(s.soa.rdata).serial;
    this.soa = { owner: s.origin, type: RRType.SOA, records: [s.soa] };
    this.blocks = s.blocks;
    const runs: number[][] = [];
    s.blocks.forEach((b, i) => (runs[b.run] ??= []).push(i));
    this.runs = runs.filter((r) => r !== undefined);
    this.cached = this.runs.map(() => undefined);
  }

  /**
   * Opens the compact file at `path` of zone `origin`: its trailer is read and checked (the
   * blocks are checked as they are read, or all at once by `check`). With `stamp`, the file
   * must mirror the text file of that stamp. Throws a WireFormatError naming the file when it
   * is damaged or not the one expected, an IO SignerError when it cannot be read.
   */
  static open(path: string, origin: Name, stamp?: string): ServedFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new SignerError('IO', `${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
    try {
      const summary = readSummary(fd, path);
      if (!summary.origin.equals(origin)) throw damagedFile(path, `the served version of ${summary.origin.toString()}, not of ${origin.toString()}`);
      if (stamp !== undefined && summary.stamp !== stamp)
        throw damagedFile(path, `it does not mirror the signed text file as it is now (written for ${summary.stamp}, the file is ${stamp})`);
      return new ServedFile(path, fstatSync(fd).ino, summary);
    } finally {
      closeSync(fd);
    }
  }

  /** Reads every block and checks it against its CRC-32 (and that it decodes); throws an error naming the file and block. */
  check(): void {
    const release = this.retain();
    try {
      for (let i = 0; i < this.blocks.length; i++) this.decode(i);
    } finally {
      release();
    }
  }

  retain(): () => void {
    this.openFile();
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holders === 0) this.closeFile();
    };
  }

  /** Lets go of the hold the opener has: once no reader holds it, it is not read again. */
  release(): void {
    this.isReleased = true;
    if (this.holders === 0) this.closeFile();
  }

  /** Opens the file for a read or a hold, if it is not open: the very file opened first. */
  private openFile(): number {
    if (this.fd !== undefined) return this.fd;
    if (this.isReleased) throw new SignerError('IO', `${this.path}: the served version was released`);
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (e) {
      throw new SignerError('IO', `${this.path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
    if (fstatSync(fd).ino !== this.ino) {
      closeSync(fd);
      throw new SignerError('IO', `${this.path}: another file has taken its place since it was opened; the version it held is no longer readable`);
    }
    this.fd = fd;
    return fd;
  }

  private closeFile(): void {
    this.cached.fill(undefined);
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  get(name: Name): NodeView | undefined {
    const key = name.canonicalKey();
    let found: NodeView | undefined;
    for (let r = 0; r < this.runs.length; r++) {
      const run = this.runs[r]!;
      // the last block of the run whose first name is not after `key`
      let lo = 0;
      let hi = run.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (this.blocks[run[mid]!]!.firstKey <= key) {
          at = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (at < 0) continue;
      const index = run[at]!;
      // a block decoded for a lookup is kept while the version is held (lookups in order mostly hit it), never at rest
      let cached = this.cached[r];
      if (cached?.at !== index) {
        cached = { at: index, block: this.decode(index) };
        if (this.holders > 0) this.cached[r] = cached;
      }
      const node = findIn(cached.block, key);
      if (node !== undefined) found = found === undefined ? node : joinNodes(found, node);
    }
    return found;
  }

  rrset(name: Name, type: number): RRsetView | undefined {
    return this.get(name)?.rrsets.find((s) => s.type === type);
  }

  *rrsets(): Generator<RRsetView> {
    for (const node of this.nodes()) yield* node.rrsets;
  }

  /** Every name in canonical order, read block by block (the runs merged). */
  *nodes(): Generator<NodeView> {
    for (const { node } of this.keyedNodes()) yield node;
  }

  /** Every name in canonical order with its canonical key, read block by block (the runs merged); the file is held meanwhile. */
  *keyedNodes(): Generator<{ readonly key: string; readonly node: NodeView }> {
    const release = this.retain();
    try {
      if (this.runs.length === 1) {
        yield* this.runReader(this.runs[0]!);
        return;
      }
      const heads = this.runs.map((run) => this.runReader(run));
      const current = heads.map((h) => h.next());
      for (;;) {
        let min = -1;
        for (let i = 0; i < current.length; i++) {
          const c = current[i]!;
          if (!c.done && (min < 0 || c.value.key < (current[min]!.value as { key: string }).key)) min = i;
        }
        if (min < 0) return;
        const { key } = current[min]!.value as { key: string; node: NodeView };
        let node = (current[min]!.value as { node: NodeView }).node;
        current[min] = heads[min]!.next();
        // the same name in two runs (never from the signer): one node
        for (let i = 0; i < current.length; i++) {
          const c = current[i]!;
          if (!c.done && c.value.key === key) {
            node = joinNodes(node, c.value.node);
            current[i] = heads[i]!.next();
          }
        }
        yield { key, node };
      }
    } finally {
      release();
    }
  }

  private *runReader(run: readonly number[]): Generator<{ key: string; node: NodeView }> {
    for (const i of run) {
      const b = this.decode(i);
      for (let k = 0; k < b.nodes.length; k++) yield { key: b.keys[k]!, node: b.nodes[k]! };
    }
  }

  /** Block `i` read, checked against its CRC-32 and decoded. */
  private decode(i: number): DecodedBlock {
    const b = this.blocks[i]!;
    const isHeld = this.holders > 0;
    const buf = Buffer.allocUnsafe(b.length);
    try {
      readFully(this.openFile(), buf, b.offset, this.path);
    } finally {
      if (!isHeld) this.closeFile();
    }
    if (crc32(buf) !== b.crc) throw damagedFile(this.path, `block ${i} (offset ${b.offset}) does not match its checksum; the file is damaged`);
    try {
      const block = decodeBlock(buf);
      if (block.keys[0] !== b.firstKey) throw new WireFormatError('its first name is not the one the trailer names');
      return block;
    } catch (e) {
      if (e instanceof WireFormatError) throw damagedFile(this.path, `block ${i} (offset ${b.offset}): ${e.message}`);
      throw e;
    }
  }
}

/** A compact file that is not what it should be: the message starts with the file. */
function damagedFile(path: string, what: string): SignerError {
  return new SignerError('WIRE_FORMAT', `${path}: ${what}`);
}

function readFully(fd: number, buf: Buffer, position: number, path: string): void {
  for (let done = 0; done < buf.length;) {
    const n = readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) throw damagedFile(path, `the file ends before offset ${position + buf.length}`);
    done += n;
  }
}

function decodeBlock(buf: Buffer): DecodedBlock {
  const r = new ByteReader(buf);
  const keys: string[] = [];
  const nodes: NodeView[] = [];
  while (r.remaining > 0) {
    const name = r.name();
    const count = r.u16('RRset count');
    const rrsets: RRsetView[] = [];
    for (let s = 0; s < count; s++) {
      const type = r.u16('type');
      const n = r.u16('record count');
      const records: RecordView[] = [];
      for (let k = 0; k < n; k++) {
        const ttl = r.u32('TTL');
        records.push({ ttl, rdata: r.bytes(r.u16('RDATA length'), 'RDATA') });
      }
      rrsets.push({ owner: name, type, records });
    }
    const key = name.canonicalKey();
    if (keys.length > 0 && key <= keys[keys.length - 1]!) throw new WireFormatError('names out of order', r.pos);
    keys.push(key);
    nodes.push({ name, rrsets });
  }
  return { keys, nodes };
}

function findIn(block: DecodedBlock, key: string): NodeView | undefined {
  let lo = 0;
  let hi = block.keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = block.keys[mid]!;
    if (k === key) return block.nodes[mid];
    if (k < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

function joinNodes(a: NodeView, b: NodeView): NodeView {
  return { name: a.name, rrsets: [...a.rrsets, ...b.rrsets].sort((x, y) => x.type - y.type) };
}

function readSummary(fd: number, path: string): Summary {
  const size = fstatSync(fd).size;
  const damaged = (what: string): SignerError => damagedFile(path, `${what}; the file is damaged or not a served version`);
  if (size < MAGIC.length + TAIL) throw damaged('too short');
  const head = Buffer.alloc(MAGIC.length);
  readFully(fd, head, 0, path);
  if (!head.equals(MAGIC)) throw damaged('no HMSSRV01 header');
  const tail = Buffer.alloc(TAIL);
  readFully(fd, tail, size - TAIL, path);
  if (!tail.subarray(8).equals(END_MAGIC)) throw damaged('no HMSSEND1 at its end (written only in part?)');
  const length = tail.readUInt32BE(0);
  if (length > size - TAIL - MAGIC.length) throw damaged('the trailer is longer than the file');
  const trailer = Buffer.alloc(length);
  readFully(fd, trailer, size - TAIL - length, path);
  if (crc32(trailer) !== tail.readUInt32BE(4)) throw damaged('the trailer does not match its checksum');
  try {
    const r = new ByteReader(trailer);
    const origin = Name.decode(r.bytes(r.u16('origin length')), 0, false).name;
    const stamp = Buffer.from(r.bytes(r.u16('stamp length'))).toString('latin1');
    const recordCount = r.u32();
    const nodeCount = r.u32();
    const blockCount = r.u32();
    const soa = { ttl: r.u32(), rdata: Uint8Array.from(r.bytes(r.u16())) };
    const hasExpiry = r.u8() === 1;
    const expiry = r.u32();
    const dnskeys: Uint8Array[] = [];
    for (let n = r.u16(); n > 0; n--) dnskeys.push(Uint8Array.from(r.bytes(r.u16())));
    const blocks: BlockIndex[] = [];
    let end = MAGIC.length;
    for (let i = 0; i < blockCount; i++) {
      const offset = r.u32() * 0x1_0000_0000 + r.u32();
      const block = { offset, length: r.u32(), crc: r.u32(), run: r.u32(), firstKey: Name.decode(r.bytes(r.u16()), 0, false).name.canonicalKey() };
      if (block.offset !== end) throw damaged(`block ${i} is not where the one before ends`);
      end += block.length;
      blocks.push(block);
    }
    if (end !== size - TAIL - length) throw damaged('the blocks do not end where the trailer starts');
    if (r.remaining !== 0) throw damaged('octets after the trailer');
    return { origin, stamp, recordCount, nodeCount, soa, expires: hasExpiry ? expiry : null, dnskeys, blocks };
  } catch (e) {
    if (e instanceof WireFormatError) throw damaged(`its trailer: ${e.message}`);
    throw e;
  }
}

/**
 * Writes the compact file of a version held otherwise (a Zone read from the signed text file
 * whose stamp is `stamp`) and opens it.
 */
export function writeServedFile(path: string, version: { readonly origin: Name; readonly nodes: Iterable<NodeView> }, stamp: string): ServedFile {
  const w = ServedFileWriter.open(path, version.origin);
  try {
    for (const node of version.nodes) w.node(node);
  } catch (e) {
    w.abort();
    throw e;
  }
  return w.commit(stamp);
}
