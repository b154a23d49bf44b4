/**
 * A set of fixed-size digests (NSEC3 hashes) kept in typed arrays: an open-addressing table
 * over one buffer of keys. A million-name zone's hashes take some 50 MB here and no object
 * on the JavaScript heap per name, where a Map of strings took hundreds of megabytes the
 * garbage collector had to walk again and again. Each digest gets an index (0, 1, 2... in the
 * order of `add`) that callers use for arrays of their own beside the table.
 */
export class DigestTable {
  private keys: Uint8Array;
  /** Index + 1 of the digest in each slot; 0 is an empty slot. */
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(
    readonly width: number,
    expected = 1024,
  ) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.keys = new Uint8Array(Math.max(expected, 16) * width);
  }

  /** The index of the digest at `bytes[at..at+width]`, or -1 if it is not in the table. */
  find(bytes: Uint8Array, at = 0): number {
    for (let slot = this.start(bytes, at); ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]! - 1;
      if (entry < 0) return -1;
      if (this.equals(entry, bytes, at)) return entry;
    }
  }

  /** Adds the digest at `bytes[at..at+width]` (which must not be there yet); returns its index. */
  add(bytes: Uint8Array, at = 0): number {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    const index = this.size++;
    if (index * this.width >= this.keys.length) {
      const keys = new Uint8Array(this.keys.length * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    this.keys.set(bytes.subarray(at, at + this.width), index * this.width);
    this.place(index);
    return index;
  }

  /** The digest of index `i` (a view, valid until the next `add`). */
  key(i: number): Uint8Array {
    return this.keys.subarray(i * this.width, (i + 1) * this.width);
  }

  private place(index: number): void {
    let slot = this.start(this.keys, index * this.width);
    while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
    this.slots[slot] = index + 1;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let i = 0; i < this.size; i++) this.place(i);
  }

  /** The first slot to probe: digests are uniform, so a few of their octets, mixed, will do. */
  private start(b: Uint8Array, at: number): number {
    const w = this.width;
    const x =
      (b[at]! | (b[at + (1 % w)]! << 8) | (b[at + (2 % w)]! << 16) | (b[at + (3 % w)]! << 24)) ^ Math.imul(b[at + w - 1]! | (b[at + w - 2]! << 8), 0x9e3779b1);
    return (Math.imul(x, 0x85ebca6b) >>> 0) & this.mask;
  }

  private equals(entry: number, b: Uint8Array, at: number): boolean {
    const k = this.keys;
    const base = entry * this.width;
    for (let i = 0; i < this.width; i++) if (k[base + i] !== b[at + i]) return false;
    return true;
  }
}
