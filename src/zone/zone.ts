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
 * type, records in canonical RDATA order. Build one with ZoneBuilder.
 */
export class Zone {
  private readonly index: Map<string, ZoneNode>;

  constructor(
    readonly origin: Name,
    readonly nodes: readonly ZoneNode[],
    readonly duplicates: readonly DroppedDuplicate[],
    index?: Map<string, ZoneNode>,
  ) {
    this.index = index ?? new Map(nodes.map((n) => [n.name.key, n]));
    let count = 0;
    for (const node of nodes) for (const set of node.rrsets) count += set.records.length;
    this.recordCount = count;
  }

  readonly recordCount: number;

  get(name: Name): ZoneNode | undefined {
    return this.index.get(name.key);
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

interface MutableRRset {
  readonly owner: Name;
  readonly type: number;
  records: Rr[];
}

interface MutableNode {
  readonly name: Name;
  readonly rrsets: MutableRRset[];
}

/**
 * Collects records, then freezes them into a Zone (dnspython's transaction, then commit).
 * The builder fills the very objects the zone will hold, so freezing only sorts.
 */
export class ZoneBuilder {
  private nodes = new Map<string, MutableNode>();
  private lastNode: MutableNode | undefined;
  private lastSet: MutableRRset | undefined;

  constructor(readonly origin: Name) {}

  /** Adds a record; the object itself is kept (it is never changed afterwards). */
  add(record: Rr & { readonly owner: Name; readonly type: number }): void {
    // Arrays start as literals of one element: V8 gives `[]` room for 16, and most RRsets
    // of a large zone hold one record.
    let node = this.lastNode;
    if (node === undefined || (node.name !== record.owner && node.name.key !== record.owner.key)) {
      node = this.nodes.get(record.owner.key);
      if (node === undefined) {
        const set: MutableRRset = { owner: record.owner, type: record.type, records: [record] };
        this.lastNode = { name: record.owner, rrsets: [set] };
        this.lastSet = set;
        this.nodes.set(record.owner.key, this.lastNode);
        return;
      }
      this.lastNode = node;
      this.lastSet = undefined;
    }
    let set = this.lastSet;
    if (set === undefined || set.type !== record.type) {
      set = node.rrsets.find((s) => s.type === record.type);
      if (set === undefined) {
        set = { owner: record.owner, type: record.type, records: [record] };
        node.rrsets.push(set);
        this.lastSet = set;
        return;
      }
      this.lastSet = set;
    }
    set.records.push(record);
  }

  /** Sorts everything into canonical order and hands it to a Zone; the builder is empty after. */
  freeze(): Zone {
    const duplicates: DroppedDuplicate[] = [];
    const nodes: MutableNode[] = [];
    const keys: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.rrsets.length > 1) node.rrsets.sort((a, b) => a.type - b.type);
      for (const set of node.rrsets) {
        if (set.records.length > 1) set.records = sortAndDedupe(node.name, set.type, set.records, duplicates);
      }
      nodes.push(node);
      keys.push(node.name.canonicalKey());
    }
    const index = this.nodes;
    this.nodes = new Map();
    this.lastNode = undefined;
    this.lastSet = undefined;
    const order = Array.from(nodes.keys()).sort((a, b) => (keys[a]! < keys[b]! ? -1 : 1));
    return new Zone(this.origin, order.map((i) => nodes[i]!), duplicates, index);
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
