import { compareBytes } from '../dns/bytes.js';
import { Name } from '../dns/name.js';
import { canonicalRdata } from '../dns/rdata/index.js';
import { RRType } from '../dns/types.js';

/** One record of an RRset: its TTL, RDATA and where it was read. */
export interface Rr {
  readonly ttl: number;
  readonly rdata: Uint8Array;
  readonly file: string;
  readonly line: number;
}

/**
 * What readers of a zone (the printer, the verifier) need of a record, an RRset and a name:
 * a Zone's own, or the ones the signer hands out as it goes.
 */
export interface RecordView {
  readonly ttl: number;
  readonly rdata: Uint8Array;
}

export interface RRsetView {
  readonly owner: Name;
  readonly type: number;
  readonly records: readonly RecordView[];
}

export interface NodeView {
  readonly name: Name;
  /** By type number, ascending. */
  readonly rrsets: readonly RRsetView[];
}

export interface RRset {
  /** The owner as written on the RRset's first record (names that differ in case are one node). */
  readonly owner: Name;
  readonly type: number;
  /** Canonical RDATA order (RFC 4034 section 6.3), duplicates removed. */
  readonly records: readonly Rr[];
}

export interface ZoneNode {
  readonly name: Name;
  /** By type number, ascending. */
  readonly rrsets: readonly RRset[];
}

/** A record that was dropped because the same record came earlier. */
export interface DroppedDuplicate extends Rr {
  readonly owner: Name;
  readonly type: number;
  /** Where the record it repeats was read. */
  readonly first: Rr;
}

/**
 * An immutable zone snapshot: nodes in canonical name order (RFC 4034 section 6.1), RRsets by
 * type, records in canonical RDATA order. Build one with ZoneBuilder. Lookups are a binary
 * search over the canonical order (no hash table: for a large zone that is faster to build).
 */
export class Zone {
  readonly recordCount: number;
  private keys: readonly string[];
  private nodeList: readonly ZoneNode[];
  /** Who the nodes were handed to (takeNodes), once they were. */
  private takenBy: string | undefined;

  /**
   * `nodes` must be in canonical order; `keys`, when given, are their canonical keys, and
   * `recordCount` the number of records they hold (both are computed when not given).
   */
  constructor(
    readonly origin: Name,
    nodes: readonly ZoneNode[],
    readonly duplicates: readonly DroppedDuplicate[] = [],
    keys?: readonly string[],
    recordCount?: number,
    types?: ReadonlySet<number>,
  ) {
    this.nodeList = nodes;
    this.keys = keys ?? nodes.map((n) => n.name.canonicalKey());
    if (recordCount === undefined) {
      recordCount = 0;
      for (const node of nodes) for (const set of node.rrsets) recordCount += set.records.length;
    }
    this.recordCount = recordCount;
    this.types = types ?? new Set(nodes.flatMap((n) => n.rrsets.map((set) => set.type)));
  }

  /** The record types present anywhere in the zone. */
  readonly types: ReadonlySet<number>;

  /** The names, in canonical order. */
  get nodes(): readonly ZoneNode[] {
    if (this.takenBy !== undefined) this.spent();
    return this.nodeList;
  }

  /**
   * Hands the nodes to one last reader, `reader`, which lets each go once it is done with it
   * (the signer: SignZoneOptions.consume), so that a large zone's memory is given back as it
   * is signed rather than after. The array is the reader's own; the zone holds no node after,
   * and any later look into it throws (its origin and counts stay).
   */
  takeNodes(reader: string): (ZoneNode | undefined)[] {
    const nodes = Array.from(this.nodes);
    this.takenBy = reader;
    this.nodeList = [];
    this.keys = [];
    return nodes;
  }

  /** A bug in hms, never an operator's error: a zone looked into after it was handed over. */
  private spent(): never {
    throw new Error(`zone ${this.origin.toString()}: its names were handed to ${this.takenBy!} and are no longer held`);
  }

  get(name: Name): ZoneNode | undefined {
    if (this.takenBy !== undefined) this.spent();
    const key = name.canonicalKey();
    let lo = 0;
    let hi = this.keys.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.keys[mid]!;
      if (k === key) return this.nodeList[mid];
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  rrset(name: Name, type: number): RRset | undefined {
    return this.get(name)?.rrsets.find((s) => s.type === type);
  }

  get apex(): ZoneNode | undefined {
    return this.get(this.origin);
  }

  get soa(): RRset | undefined {
    return this.rrset(this.origin, RRType.SOA);
  }

  /** Every RRset, in canonical order. */
  *rrsets(): Generator<RRset> {
    for (const node of this.nodes) yield* node.rrsets;
  }
}

/**
 * One or more items, the lone item kept without an array. Most RRsets of a large zone hold
 * one record and most names one RRset: two objects saved each, and the garbage collector's
 * time with them on a million-record zone.
 */
abstract class OneOrMore<T> {
  declare protected one: T | undefined;
  declare protected many: T[] | undefined;

  protected get items(): readonly T[] {
    return this.many ?? [this.one!];
  }

  add(item: T): void {
    if (this.many === undefined) {
      this.many = [this.one!, item];
      this.one = undefined;
    } else {
      this.many.push(item);
    }
  }
}

/** An RRset under construction and after. */
class RecordSet extends OneOrMore<Rr> implements RRset {
  declare readonly owner: Name;
  declare readonly type: number;

  /** A literal with this prototype, which V8 can pretenure (see Name.make). */
  static make(owner: Name, type: number, first: Rr): RecordSet {
    return { __proto__: RecordSet.prototype, owner, type, one: first, many: undefined } as unknown as RecordSet;
  }

  get records(): readonly Rr[] {
    return this.items;
  }

  /** Canonical RDATA order, duplicates moved to `duplicates`. */
  sort(duplicates: DroppedDuplicate[]): void {
    if (this.many !== undefined) this.many = sortAndDedupe(this.owner, this.type, this.many, duplicates);
  }
}

class Node extends OneOrMore<RecordSet> implements ZoneNode {
  declare readonly name: Name;

  static make(name: Name, first: RecordSet): Node {
    return { __proto__: Node.prototype, name, one: first, many: undefined } as unknown as Node;
  }

  get rrsets(): readonly RecordSet[] {
    return this.items;
  }

  find(type: number): RecordSet | undefined {
    if (this.one !== undefined) return this.one.type === type ? this.one : undefined;
    return this.many!.find((s) => s.type === type);
  }

  /** Takes in the RRsets of a later node of the same name. */
  merge(other: Node): void {
    for (const set of other.rrsets) {
      const mine = this.find(set.type);
      if (mine === undefined) this.add(set);
      else for (const rr of set.records) mine.add(rr);
    }
  }

  sort(duplicates: DroppedDuplicate[]): void {
    if (this.one !== undefined) {
      this.one.sort(duplicates);
      return;
    }
    this.many!.sort((a, b) => a.type - b.type);
    for (const set of this.many!) set.sort(duplicates);
  }
}

/**
 * Collects records, then freezes them into a Zone (dnspython's transaction, then commit).
 * The builder fills the very objects the zone will hold. Records of one name usually come
 * together; a name that comes back later gets a second node, merged into the first when
 * freezing sorts the nodes into canonical order.
 */
export class ZoneBuilder {
  private nodes: Node[] = [];
  private lastNode: Node | undefined;
  private lastSet: RecordSet | undefined;
  private count = 0;
  private types = new Set<number>();

  constructor(readonly origin: Name) {}

  /** Adds a record; the object itself is kept (it is never changed afterwards). */
  add(record: Rr & { readonly owner: Name; readonly type: number }): void {
    this.count++;
    const node = this.lastNode;
    if (node === undefined || (node.name !== record.owner && node.name.key !== record.owner.key)) {
      const set = RecordSet.make(record.owner, record.type, record);
      this.types.add(record.type);
      this.lastNode = Node.make(record.owner, set);
      this.lastSet = set;
      this.nodes.push(this.lastNode);
      return;
    }
    let set = this.lastSet;
    if (set === undefined || set.type !== record.type) {
      set = node.find(record.type);
      if (set === undefined) {
        set = RecordSet.make(record.owner, record.type, record);
        this.types.add(record.type);
        node.add(set);
        this.lastSet = set;
        return;
      }
      this.lastSet = set;
    }
    set.add(record);
  }

  /** Sorts everything into canonical order and hands it to a Zone; the builder is empty after. */
  freeze(): Zone {
    const all = this.nodes;
    this.nodes = [];
    this.lastNode = undefined;
    this.lastSet = undefined;
    const allKeys = all.map((n) => n.name.canonicalKey());
    // Array.prototype.sort is stable: equal names stay in the order they were read
    const order = Array.from(allKeys.keys()).sort((a, b) => (allKeys[a]! < allKeys[b]! ? -1 : allKeys[a]! > allKeys[b]! ? 1 : 0));
    const duplicates: DroppedDuplicate[] = [];
    const nodes: Node[] = [];
    const keys: string[] = [];
    for (const i of order) {
      const node = all[i]!;
      const key = allKeys[i]!;
      if (keys.length > 0 && keys[keys.length - 1] === key) {
        nodes[nodes.length - 1]!.merge(node);
        continue;
      }
      nodes.push(node);
      keys.push(key);
    }
    for (const node of nodes) node.sort(duplicates);
    const count = this.count - duplicates.length;
    const types = this.types;
    this.count = 0;
    this.types = new Set();
    return new Zone(this.origin, nodes, duplicates, keys, count, types);
  }
}

function sortAndDedupe(owner: Name, type: number, records: Rr[], duplicates: DroppedDuplicate[]): Rr[] {
  const keyed = records.map((rr, order) => ({ rr, order, canonical: canonicalRdata(type, rr.rdata) }));
  keyed.sort((a, b) => compareBytes(a.canonical, b.canonical) || a.order - b.order);
  const out: Rr[] = [];
  let prev: (typeof keyed)[number] | undefined;
  for (const k of keyed) {
    if (prev !== undefined && compareBytes(prev.canonical, k.canonical) === 0) {
      duplicates.push({ ...k.rr, owner, type, first: prev.rr });
      continue;
    }
    out.push(k.rr);
    prev = k;
  }
  return out;
}
