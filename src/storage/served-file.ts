import { closeSync, fstatSync, openSync, statSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { SignerError, WireFormatError } from '../common/errors.js';
import { ByteWriter } from '../dns/bytes.js';
import type { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { RRType } from '../dns/types.js';
import { rrsigExpiration, type ServedVersion } from '../zone/version.js';
import type { NodeView, RecordView, RRsetView } from '../zone/zone.js';
import {
  BLOCK,
  damagedFile,
  decodeBlock,
  type BlockIndex,
  type DecodedBlock,
  encodeTrailer,
  END_MAGIC,
  MAGIC,
  readFully,
  readSummary,
  type Summary,
  TAIL,
} from './served-file-format.js';
import { AtomicZoneFile } from './zone-files.js';

/**
 * A served version of a zone kept compactly on disk (issue 20 item 2b), beside the signed text
 * file it mirrors (served-file-format.ts has the format): the records in blocks of whole names,
 * each block checked against its CRC-32 whenever it is read; in memory only the trailer (SOA,
 * DNSKEYs, earliest expiration, counts, where each block lies and its first name).
 */
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
