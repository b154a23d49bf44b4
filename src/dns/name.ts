import { quote, ValueError, WireFormatError } from '../common/errors.js';

/**
 * A domain name. It is held as its uncompressed wire form in a latin1 string (one character
 * per octet): compact for million-record zones, immutable, and usable as a Map key. The case
 * of the input is kept; comparisons are case-insensitive (ASCII only, RFC 4343).
 */
export class Name {
  /** Uncompressed wire form, original case, ending in the root label. */
  readonly wire: string;
  private lowerCache: string | undefined;

  private constructor(wire: string) {
    this.wire = wire;
  }

  /**
   * Makes a Name as an object literal with Name's prototype rather than with `new`: V8
   * pretenures objects made at a literal site when they live long, which spares the garbage
   * collector the copying of a million names through the young generation.
   */
  private static make(wire: string): Name {
    return { __proto__: Name.prototype, wire, lowerCache: undefined } as unknown as Name;
  }

  static readonly ROOT = Name.make('\x00');

  /** Builds a name from raw labels (latin1 strings of octets), most specific first. */
  static fromLabels(labels: readonly string[]): Name {
    let wire = '';
    for (const label of labels) {
      if (label.length === 0) throw new ValueError('empty label', 'NAME_SYNTAX');
      if (label.length > 63) throw new ValueError(`label over 63 octets (${label.length})`, 'NAME_SYNTAX');
      wire += String.fromCharCode(label.length) + label;
    }
    wire += '\x00';
    if (wire.length > 255) throw new ValueError(`name over 255 octets (${wire.length})`, 'NAME_SYNTAX');
    return Name.make(wire);
  }

  /**
   * Parses a name in presentation form. A name without a final dot is relative to `origin`;
   * `@` is the origin itself. Escapes: `\X` for a literal character, `\DDD` for an octet.
   */
  static parse(text: string, origin: Name | null = null): Name {
    if (text === '@') {
      if (origin === null) throw new ValueError("'@' used with no origin set", 'NAME_SYNTAX');
      return origin;
    }
    if (text === '.') return Name.ROOT;
    return Name.make(SCRATCH.toString('latin1', 0, Name.parseToScratch(text, origin)));
  }

  /**
   * Parses a name in presentation form straight into wire data (a name inside RDATA), without
   * making a Name: the same rules as `parse`.
   */
  static parseInto(text: string, origin: Name | null, w: { prefix(b: Uint8Array, n: number): void }): void {
    if (text === '@' || text === '.') {
      const name = Name.parse(text, origin);
      for (let i = 0; i < name.wire.length; i++) SCRATCH[i] = name.wire.charCodeAt(i);
      w.prefix(SCRATCH, name.wire.length);
      return;
    }
    w.prefix(SCRATCH, Name.parseToScratch(text, origin));
  }

  /** The wire form of a presentation name (not `@`, not `.`) into SCRATCH; returns its length. */
  private static parseToScratch(text: string, origin: Name | null): number {
    const n = text.length;
    if (n === 0) throw new ValueError('empty name', 'NAME_SYNTAX');
    // Octets go into a scratch buffer and come out as one flat string: a name built by string
    // concatenation would keep slices of the whole input text alive.
    const out = SCRATCH;
    let len = 0;
    let labelStart = 0;
    out[0] = 0;
    len = 1;
    let absolute = false;
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i);
      if (c === 0x2e /* . */) {
        const labelLength = len - labelStart - 1;
        if (labelLength === 0) throw new ValueError(`empty label in ${quote(text)}`, 'NAME_SYNTAX');
        if (labelLength > 63) throw new ValueError(`label over 63 octets (${labelLength}) in ${quote(text)}`, 'NAME_SYNTAX');
        out[labelStart] = labelLength;
        if (i === n - 1) {
          absolute = true;
          break;
        }
        labelStart = len;
        out[len++] = 0;
        continue;
      }
      if (c === 0x5c /* \ */) {
        if (i + 1 >= n) throw new ValueError(`dangling backslash in ${quote(text)}`, 'NAME_SYNTAX');
        const d1 = text.charCodeAt(i + 1);
        if (isDigit(d1)) {
          if (i + 3 >= n) throw new ValueError(`bad \\DDD escape in ${quote(text)}`, 'NAME_SYNTAX');
          const d2 = text.charCodeAt(i + 2);
          const d3 = text.charCodeAt(i + 3);
          if (!isDigit(d2) || !isDigit(d3)) throw new ValueError(`bad \\DDD escape in ${quote(text)}`, 'NAME_SYNTAX');
          c = (d1 - 48) * 100 + (d2 - 48) * 10 + (d3 - 48);
          if (c > 255) throw new ValueError(`escape \\${text.slice(i + 1, i + 4)} is over 255 in ${quote(text)}`, 'NAME_SYNTAX');
          i += 3;
        } else {
          c = d1;
          i += 1;
        }
      }
      if (c > 0xff) throw new ValueError(`character outside octet range in ${quote(text)}`, 'NAME_SYNTAX');
      if (len >= 255) throw new ValueError(`name over 255 octets in ${quote(text)}`, 'NAME_SYNTAX');
      out[len++] = c;
    }
    if (!absolute) {
      const labelLength = len - labelStart - 1;
      if (labelLength > 63) throw new ValueError(`label over 63 octets (${labelLength}) in ${quote(text)}`, 'NAME_SYNTAX');
      out[labelStart] = labelLength;
      if (origin === null) throw new ValueError(`relative name ${quote(text)} with no origin set`, 'NAME_SYNTAX');
      if (len + origin.wire.length > 255) {
        throw new ValueError(`name over 255 octets (${len + origin.wire.length}) in ${quote(text)}`, 'NAME_SYNTAX');
      }
      const o = origin.wire;
      for (let i = 0; i < o.length; i++) out[len++] = o.charCodeAt(i);
      return len;
    }
    out[len++] = 0;
    if (len > 255) throw new ValueError(`name over 255 octets (${len}) in ${quote(text)}`, 'NAME_SYNTAX');
    return len;
  }

  /**
   * Decodes a name from wire data at `offset`. Compression pointers are followed only when
   * `allowPointers` is true (messages), never inside RDATA read on its own.
   */
  static decode(buf: Uint8Array, offset: number, allowPointers = false): { name: Name; end: number } {
    let size = 0;
    let pos = offset;
    let end = -1;
    let jumps = 0;
    for (;;) {
      if (pos >= buf.length) throw new WireFormatError('name runs past the end of the data', pos);
      const len = buf[pos]!;
      if (len === 0) {
        SCRATCH[size++] = 0;
        if (end < 0) end = pos + 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        if (!allowPointers) throw new WireFormatError('compression pointer where none is allowed', pos);
        if (pos + 1 >= buf.length) throw new WireFormatError('truncated compression pointer', pos);
        const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
        if (end < 0) end = pos + 2;
        if (++jumps > 127 || target >= pos) throw new WireFormatError('compression pointer loop or forward pointer', pos);
        pos = target;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new WireFormatError(`unknown label type 0x${len.toString(16)}`, pos);
      if (pos + 1 + len > buf.length) throw new WireFormatError('label runs past the end of the data', pos);
      if (size + 1 + len > 254) throw new WireFormatError('name over 255 octets', offset);
      SCRATCH.set(buf.subarray(pos, pos + 1 + len), size);
      size += 1 + len;
      pos += 1 + len;
    }
    return { name: size === 1 ? Name.ROOT : Name.make(SCRATCH.toString('latin1', 0, size)), end };
  }

  /**
   * Where the uncompressed name at `offset` ends, checked as `decode` checks it, without
   * making the Name (the canonical form of RDATA only steps over its names).
   */
  static end(buf: Uint8Array, offset: number, limit = buf.length): number {
    for (let pos = offset; ;) {
      if (pos >= limit) throw new WireFormatError('name runs past the end of the data', pos);
      const len = buf[pos]!;
      if (len === 0) return pos + 1;
      if ((len & 0xc0) === 0xc0) throw new WireFormatError('compression pointer where none is allowed', pos);
      if ((len & 0xc0) !== 0) throw new WireFormatError(`unknown label type 0x${len.toString(16)}`, pos);
      if (pos + 1 + len > limit) throw new WireFormatError('label runs past the end of the data', pos);
      if (pos - offset + 1 + len > 254) throw new WireFormatError('name over 255 octets', offset);
      pos += 1 + len;
    }
  }

  /** Wraps an already validated uncompressed wire string. */
  static fromWireString(wire: string): Name {
    return wire === '\x00' ? Name.ROOT : Name.make(wire);
  }

  /** The lowercased wire form: equal for names that are equal in DNS. Use as a Map key. */
  get key(): string {
    if (this.lowerCache === undefined) this.lowerCache = asciiLower(this.wire);
    return this.lowerCache;
  }

  /**
   * A string whose plain `<` order is the canonical DNS name order of RFC 4034 section 6.1:
   * labels compared right to left, case-folded, as unsigned octet strings. It is computed on
   * every call (not kept: a million names would carry it for nothing); sort by precomputed keys.
   */
  canonicalKey(): string {
    // labels from the root down, lowercased, \x00 and \x01 escaped, each ended by \x00
    const w = this.wire;
    const starts = LABEL_STARTS;
    let count = 0;
    for (let pos = 0; w.charCodeAt(pos) !== 0; pos += w.charCodeAt(pos) + 1) starts[count++] = pos;
    const out = SCRATCH;
    let len = 0;
    for (let i = count - 1; i >= 0; i--) {
      const at = starts[i]!;
      const end = at + 1 + w.charCodeAt(at);
      for (let j = at + 1; j < end; j++) {
        const c = w.charCodeAt(j);
        if (c <= 1) {
          out[len++] = 1;
          out[len++] = c + 1;
        } else {
          out[len++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
        }
      }
      out[len++] = 0;
    }
    return out.toString('latin1', 0, len);
  }

  /** Raw labels, most specific first, without the root label. */
  labels(): string[] {
    const out: string[] = [];
    let pos = 0;
    const w = this.wire;
    for (;;) {
      const len = w.charCodeAt(pos);
      if (len === 0) return out;
      out.push(w.slice(pos + 1, pos + 1 + len));
      pos += 1 + len;
    }
  }

  get labelCount(): number {
    let count = 0;
    let pos = 0;
    for (;;) {
      const len = this.wire.charCodeAt(pos);
      if (len === 0) return count;
      count++;
      pos += 1 + len;
    }
  }

  get isRoot(): boolean {
    return this.wire.length === 1;
  }

  get isWildcard(): boolean {
    return this.wire.charCodeAt(0) === 1 && this.wire.charCodeAt(1) === 0x2a;
  }

  /** Octets in wire form. */
  get length(): number {
    return this.wire.length;
  }

  equals(other: Name): boolean {
    return this === other || this.key === other.key;
  }

  /** The name with its first label removed; the root has no parent. */
  parent(): Name | null {
    if (this.isRoot) return null;
    return Name.fromWireString(this.wire.slice(this.wire.charCodeAt(0) + 1));
  }

  /** Prepends a raw label. */
  child(label: string): Name {
    return Name.fromLabels([label, ...this.labels()]);
  }

  /** True when this name is `other` or lies below it. */
  isSubdomainOf(other: Name): boolean {
    const mine = this.key;
    const theirs = other.key;
    if (theirs.length > mine.length || !mine.endsWith(theirs)) return false;
    const boundary = mine.length - theirs.length;
    let pos = 0;
    while (pos < boundary) pos += mine.charCodeAt(pos) + 1;
    return pos === boundary;
  }

  /** Compares in canonical DNS name order: negative, zero or positive. */
  compare(other: Name): number {
    const a = this.canonicalKey();
    const b = other.canonicalKey();
    return a < b ? -1 : a > b ? 1 : 0;
  }

  toBytes(): Uint8Array {
    return Buffer.from(this.wire, 'latin1');
  }

  /** Presentation form, absolute, with escapes (`\.`, `\DDD`). */
  toString(): string {
    if (this.isRoot) return '.';
    // most names print as their octets with each length turned into a dot: one string, made
    // from a buffer (printing a signed zone makes one for every name)
    const w = this.wire;
    let at = 0;
    for (let pos = 0, len = w.charCodeAt(0); len !== 0; pos += 1 + len, len = w.charCodeAt(pos)) {
      for (let i = pos + 1; i <= pos + len; i++) {
        const c = w.charCodeAt(i);
        if (c <= 0x20 || c >= 0x7f || LABEL_SPECIAL_CODES[c] === 1) return this.escapedText();
        NAME_TEXT[at++] = c;
      }
      NAME_TEXT[at++] = 0x2e;
    }
    return NAME_TEXT.toString('latin1', 0, at);
  }

  private escapedText(): string {
    let out = '';
    for (const label of this.labels()) out += formatLabel(label) + '.';
    return out;
  }

  /** Lowercased copy (RFC 4034 section 6.2 canonical form). */
  toLowerCase(): Name {
    const key = this.key;
    return key === this.wire ? this : Name.make(key);
  }
}

/** Room for a name in wire or canonical-key form (at most twice 255 octets with escapes). */
const SCRATCH = Buffer.alloc(1024);
const LABEL_STARTS = new Array<number>(128).fill(0);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Lowercases A-Z only, never other latin1 letters (RFC 4343). */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : s;
}

const LABEL_SPECIAL = new Set(['.', ';', '\\', '"', '(', ')', '@', '$']);
const LABEL_SPECIAL_CODES = new Uint8Array(128);
for (const c of LABEL_SPECIAL) LABEL_SPECIAL_CODES[c.charCodeAt(0)] = 1;
/** A name's text while Name.toString makes it (at most 254 octets of plain labels and dots). */
const NAME_TEXT = Buffer.alloc(256);
/** A label that prints as it is: printable ASCII, none of LABEL_SPECIAL. */
const PLAIN_LABEL = /^[^\x00-\x20\x7f-\uffff.;\\"()@$]*$/;

/** Presentation form of one label. */
export function formatLabel(label: string): string {
  if (PLAIN_LABEL.test(label)) return label;
  let out = '';
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    const ch = label[i]!;
    if (c > 0x20 && c < 0x7f) out += LABEL_SPECIAL.has(ch) ? `\\${ch}` : ch;
    else out += `\\${c.toString().padStart(3, '0')}`;
  }
  return out;
}
