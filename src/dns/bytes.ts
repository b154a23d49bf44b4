import { WireFormatError } from '../common/errors.js';
import { Name } from './name.js';

/** A growable byte buffer for building wire data. */
export class ByteWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(initial = 512) {
    this.buf = new Uint8Array(initial);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  reset(): void {
    this.length = 0;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf[this.length++] = (v >>> 8) & 0xff;
    this.buf[this.length++] = v & 0xff;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf[this.length++] = (v >>> 24) & 0xff;
    this.buf[this.length++] = (v >>> 16) & 0xff;
    this.buf[this.length++] = (v >>> 8) & 0xff;
    this.buf[this.length++] = v & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** The first `n` octets of `b`, without making a view of them. */
  prefix(b: Uint8Array, n: number): void {
    this.ensure(n);
    for (let i = 0; i < n; i++) this.buf[this.length++] = b[i]!;
  }

  /** Octets held in a latin1 string (one character per octet), such as a Name's wire form. */
  latin1(s: string): void {
    this.ensure(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.length++] = s.charCodeAt(i);
  }

  name(n: Name): void {
    this.latin1(n.wire);
  }

  /** Overwrites a u16 already written (lengths known only afterwards). */
  setU16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }

  copyTo(target: Uint8Array, at: number): void {
    if (this.length <= 16) {
      for (let i = 0; i < this.length; i++) target[at + i] = this.buf[i]!;
    } else {
      target.set(this.buf.subarray(0, this.length), at);
    }
  }

  /** What was written so far, without copying: valid until the next write or reset. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /** A compact copy (pooled for small sizes, like Buffer.from). */
  finish(): Uint8Array {
    const out = Buffer.allocUnsafe(this.length);
    out.set(this.buf.subarray(0, this.length));
    return out;
  }
}

/** A cursor over wire data; every read checks bounds and throws WireFormatError. */
export class ByteReader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new WireFormatError(`truncated ${what}`, this.pos);
  }

  u8(what = 'octet'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what = '16-bit field'): number {
    this.need(2, what);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(what = '32-bit field'): number {
    this.need(4, what);
    const b = this.buf;
    const p = this.pos;
    const v = b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
    this.pos += 4;
    return v;
  }

  bytes(n: number, what = 'data'): Uint8Array {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  rest(): Uint8Array {
    return this.bytes(this.end - this.pos);
  }

  name(): Name {
    const { name, end } = Name.decode(this.buf.subarray(0, this.end), this.pos, false);
    this.pos = end;
    return name;
  }

  /** Steps over a name as `name` reads it, without making it. */
  skipName(): void {
    this.pos = Name.end(this.buf, this.pos, this.end);
  }
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex').toUpperCase();
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
}

/** Unsigned octet-string order (RFC 4034 section 6.3 for RDATA). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/**
 * Packs many small byte strings (the RDATA of a large zone) into big blocks, so that each
 * needs no object of its own: a holder keeps the block, an offset and a length.
 */
export class Slab {
  /** The block the last `store` wrote into. */
  block = new Uint8Array(0);
  private used = 0;

  constructor(private readonly blockSize = 1 << 18) {}

  /** Copies what a writer holds; returns where in `block` it now starts. */
  store(w: ByteWriter): number {
    if (this.used + w.length > this.block.length) {
      this.block = new Uint8Array(Math.max(this.blockSize, w.length));
      this.used = 0;
    }
    const start = this.used;
    w.copyTo(this.block, start);
    this.used += w.length;
    return start;
  }
}
