/** A token key object as the index knows it. */
export interface Indexed {
  readonly handle: Buffer;
  readonly private: boolean;
  label: string;
  /** CKA_ID in hex. */
  readonly id: string;
}

/**
 * The token's key objects (private and public, CKA_TOKEN true) by handle, with their labels
 * and CKA_IDs, as one process listed, made, relabelled or destroyed them (keys.ts keeps it, issue
 * 20), with what a lookup asks of it by zone and by CKA_ID found without going through every
 * object: a service of 1,000 zones holds some 6,000 objects and looks a zone's keys up several
 * times a run. `described` and `checkedAt` are the lookups' own (keys.ts): what a private key's
 * pair was described as, and when its objects were last read from the token.
 */
export class KeyIndex<Described> {
  private readonly objects = new Map<string, Indexed>();
  private byZone: Map<string, Indexed[]> | undefined;
  private byId: Map<string, Indexed[]> | undefined;
  private readonly described = new Map<string, { readonly key: Described; checkedAt: number }>();

  /** `before`: the index this one lists anew; what its lookups kept of the objects still there is kept. */
  constructor(
    readonly listedAt: number,
    objects: Iterable<Indexed>,
    before?: KeyIndex<Described>,
  ) {
    for (const o of objects) {
      const name = o.handle.toString('hex');
      this.objects.set(name, o);
      const kept = before?.described.get(name);
      if (kept !== undefined) this.described.set(name, kept);
    }
  }

  get(handle: Buffer): Indexed | undefined {
    return this.objects.get(handle.toString('hex'));
  }

  values(): IterableIterator<Indexed> {
    return this.objects.values();
  }

  add(o: Indexed): void {
    this.objects.set(o.handle.toString('hex'), o);
    this.changed(o.id);
  }

  remove(handle: Buffer): void {
    const o = this.objects.get(handle.toString('hex'));
    if (o === undefined) return;
    this.objects.delete(handle.toString('hex'));
    this.described.delete(handle.toString('hex'));
    this.changed(o.id);
  }

  relabel(handle: Buffer, label: string): void {
    const o = this.objects.get(handle.toString('hex'));
    if (o === undefined) return;
    o.label = label;
    this.changed(o.id);
  }

  /** The objects of one class under CKA_ID `id` (hex). */
  underId(isPrivate: boolean, id: string): Indexed[] {
    if (this.byId === undefined) {
      this.byId = new Map();
      for (const o of this.objects.values()) {
        const list = this.byId.get(o.id);
        if (list === undefined) this.byId.set(o.id, [o]);
        else list.push(o);
      }
    }
    return (this.byId.get(id) ?? []).filter((o) => o.private === isPrivate);
  }

  /**
   * The private keys whose label is `<prefix>...`: with a zone's prefix (`hms:<zone>:`, as
   * keyLabel writes it) from that zone's list; any other prefix by going through them all.
   */
  privatesUnder(prefix: string): Indexed[] {
    if (this.byZone === undefined) {
      this.byZone = new Map();
      for (const o of this.objects.values()) {
        if (!o.private) continue;
        const zone = zonePrefix(o.label);
        if (zone === undefined) continue;
        const list = this.byZone.get(zone);
        if (list === undefined) this.byZone.set(zone, [o]);
        else list.push(o);
      }
    }
    // a zone's prefix ends with its name's last dot
    if (prefix.endsWith('.:')) return this.byZone.get(prefix) ?? [];
    return [...this.objects.values()].filter((o) => o.private && o.label.startsWith(prefix));
  }

  /** What the lookups kept of the pair of private key `handle`. */
  describedOf(handle: Buffer): { readonly key: Described; checkedAt: number } | undefined {
    return this.described.get(handle.toString('hex'));
  }

  keepDescribed(handle: Buffer, key: Described, checkedAt: number): void {
    this.described.set(handle.toString('hex'), { key, checkedAt });
  }

  private changed(id: string): void {
    this.byZone = undefined;
    this.byId = undefined;
    // a pair relabelled, made or taken apart is described anew
    for (const o of this.objects.values()) if (o.id === id) this.described.delete(o.handle.toString('hex'));
  }
}

/** `hms:<zone>:` of a label `hms:<zone>:<role>:<id>` (the zone may hold ':' itself: read from the end), else undefined. */
function zonePrefix(label: string): string | undefined {
  if (!label.startsWith('hms:')) return undefined;
  const idAt = label.lastIndexOf(':');
  const roleAt = label.lastIndexOf(':', idAt - 1);
  return roleAt < 4 ? undefined : label.slice(0, roleAt + 1);
}
