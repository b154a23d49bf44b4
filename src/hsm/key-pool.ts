import { randomBytes } from 'node:crypto';
import { KeyMaker } from './key-maker.js';
import { destroyObjects, findKeyPair, findPoolObjects, keyPairTemplates, poolLabel, poolSpec, storeSessionPair } from './keys.js';
import type { Token } from './token.js';

/** What the key pool holds of one kind of key (hms key pool). */
export interface PoolKind {
  readonly kind: string;
  /** Pairs in the token under the pool's label, taken by no zone yet (those promised to a zone's run included). */
  readonly held: number;
  /** Of those, promised to a zone's run that waits to take them. */
  readonly reserved: number;
  /** How many it is refilled to (hsm.key-pool). */
  readonly target: number;
  /** Being made now. */
  readonly making: number;
}

/** What the pool tells its owner: a key made, the pool full, a failure (the refill is tried again a minute later). */
export type PoolEvent =
  | { readonly kind: 'made'; readonly key: string; readonly id: string; readonly ms: number }
  | { readonly kind: 'full'; readonly held: Readonly<Record<string, number>> }
  | { readonly kind: 'failed'; readonly key: string; readonly reason: string }
  | { readonly kind: 'removed'; readonly id: string; readonly objects: number };

const RETRY_MS = 60_000;

/**
 * The key pool (issue 20 item 3, as OpenDNSSEC's enforcer makes keys ahead): key pairs made
 * ahead in the token, per kind (poolKind: RSA by size, each curve), under the pool's label
 * (`hms-pool:<kind>:<id>`), with the attributes of every hms key. A zone's run that will need
 * keys `reserve`s them first (made now, off the event loop, when the pool has none); the
 * Keeper then `take`s one and gives it the zone's label, recorded as a pending key with its
 * former labels first (adoptKey), so that a stop part way is settled at start (the labels
 * put back: the key is the pool's again). Once making (`startMaking`), the pool is refilled
 * to its target in the background, one key at a time on the key-making thread, after every
 * key a zone waits for.
 */
export class KeyPool {
  /** By kind, the ids (hex) of the pairs no zone has taken or been promised. */
  private readonly free = new Map<string, string[]>();
  /** By zone, the pairs promised to its run (reserve), not taken yet. */
  private readonly promised = new Map<string, { kind: string; id: string }[]>();
  private readonly makingNow = new Map<string, number>();
  /** Half pairs found at open, removed once this pool makes keys (the one writer: a reader never removes what a writer may be storing). */
  private readonly halves = new Map<string, Buffer[]>();
  private maker: KeyMaker | undefined;
  private starting: Promise<KeyMaker> | undefined;
  private refilling = false;
  /** startMaking was called: the thread is wanted (a run waits for it to start rather than make keys itself). */
  private wanted = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly token: Token,
    private targets: ReadonlyMap<string, number>,
    private readonly onEvent: (e: PoolEvent) => void,
  ) {}

  /**
   * The pool of the token: its pairs read from the token now; half a pair, which a stop while
   * one was stored leaves, is removed once the pool makes keys (not when its other half is
   * under another label: a take a stop cut short, which the Keeper settles).
   */
  static open(token: Token, targets: ReadonlyMap<string, number>, onEvent: (e: PoolEvent) => void = () => {}): KeyPool {
    const pool = new KeyPool(token, targets, onEvent);
    for (const [id, found] of findPoolObjects(token)) {
      if (found.privates === 1 && found.publics === 1) pool.freeOf(found.kind).push(id);
      // the other half under another label: a zone's take that a stop cut short, settled by the Keeper (settlePending)
      else if (findKeyPair(token, id).objects.length > found.objects.length) continue;
      else pool.halves.set(id, found.objects);
    }
    return pool;
  }

  /** The kinds and sizes to keep (a reload may change them); the refill follows. */
  setTargets(targets: ReadonlyMap<string, number>): void {
    this.targets = targets;
    this.refill();
  }

  /** The pool, kind by kind: every kind it targets or holds. */
  status(): PoolKind[] {
    const kinds = new Set([...this.targets.keys(), ...this.free.keys(), ...[...this.promised.values()].flat().map((p) => p.kind)]);
    return [...kinds].sort().map((kind) => {
      const reserved = [...this.promised.values()].flat().filter((p) => p.kind === kind).length;
      return { kind, held: this.freeOf(kind).length + reserved, reserved, target: this.targets.get(kind) ?? 0, making: this.makingNow.get(kind) ?? 0 };
    });
  }

  /** Starts the key-making thread (once) and the refill. */
  async startMaking(): Promise<void> {
    this.wanted = true;
    await this.makerStarted();
    this.refill();
  }

  /** The key-making thread runs (the service, or a fill). */
  get making(): boolean {
    return this.maker !== undefined;
  }

  /**
   * Promises `zone`'s run a pair of each kind in `kinds` (a kind twice: two pairs), those it
   * was promised before and has not taken counting: from the pool, else made now (urgent: before
   * the refill), off the event loop. Without the key-making thread nothing is promised (take
   * finds none, and the Keeper makes the key itself).
   */
  async reserve(zone: string, kinds: readonly string[]): Promise<void> {
    if (!this.wanted || this.closed) return;
    await this.makerStarted();
    const mine = this.promisedTo(zone);
    const wanted = new Map<string, number>();
    for (const k of kinds) wanted.set(k, (wanted.get(k) ?? 0) + 1);
    const missing: string[] = [];
    for (const [kind, count] of wanted) {
      for (let have = mine.filter((p) => p.kind === kind).length; have < count; have++) {
        const id = this.freeOf(kind).shift();
        if (id === undefined) missing.push(kind);
        else mine.push({ kind, id });
      }
    }
    this.refill();
    // asked together, in order: this zone's keys are made one after another, before a later zone's
    const made = await Promise.all(missing.map((kind) => this.makeOne(kind, true)));
    // a zone released meanwhile (no longer served): what was made for it is the pool's
    const owner = this.promised.get(zone) === mine ? mine : undefined;
    missing.forEach((kind, i) => (owner === undefined ? this.freeOf(kind).push(made[i]!) : owner.push({ kind, id: made[i]! })));
  }

  /** A pair of `kind` for `zone`: one promised to it, else any the pool holds; undefined when it holds none. Its id (hex). */
  take(zone: string, kind: string): string | undefined {
    const mine = this.promised.get(zone);
    const at = mine?.findIndex((p) => p.kind === kind) ?? -1;
    let id: string | undefined;
    if (at >= 0) {
      id = mine!.splice(at, 1)[0]!.id;
      if (mine!.length === 0) this.promised.delete(zone);
    } else id = this.freeOf(kind).shift();
    this.refill();
    return id;
  }

  /** A pair back in the pool (a take that a stop cut short, its labels put back: Keeper.settlePending). */
  returned(kind: string, id: string): void {
    const free = this.freeOf(kind);
    if (!free.includes(id)) free.push(id);
  }

  /** The zone is no longer served: what it was promised goes back to the pool. */
  release(zone: string): void {
    for (const p of this.promised.get(zone) ?? []) this.freeOf(p.kind).push(p.id);
    this.promised.delete(zone);
  }

  /**
   * Fills the pool to `count` pairs of each kind it targets (default: each kind's target) and
   * resolves once it holds them: hms key pool --fill, before many zones are added. Returns
   * how many pairs were made.
   */
  async fill(count?: number): Promise<number> {
    await this.makerStarted();
    const jobs: Promise<string>[] = [];
    for (const [kind, target] of this.targets) {
      const want = count ?? target;
      for (let have = this.freeOf(kind).length + (this.makingNow.get(kind) ?? 0); have < want; have++) jobs.push(this.makeOne(kind, false).then((id) => this.add(kind, id)));
    }
    await Promise.all(jobs);
    return jobs.length;
  }

  /** Ends the key-making thread; what it was making is not stored. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    const maker = this.maker ?? (await this.starting?.catch(() => undefined));
    await maker?.close();
  }

  private makerStarted(): Promise<KeyMaker> {
    if (this.maker !== undefined) return Promise.resolve(this.maker);
    for (const [id, objects] of this.halves) {
      destroyObjects(this.token, objects);
      this.onEvent({ kind: 'removed', id, objects: objects.length });
    }
    this.halves.clear();
    this.starting ??= KeyMaker.start(this.token.modulePath, this.token.slot, this.token.where).then(
      (m) => (this.maker = m),
      (e: unknown) => {
        this.starting = undefined;
        throw e;
      },
    );
    return this.starting;
  }

  private freeOf(kind: string): string[] {
    let ids = this.free.get(kind);
    if (ids === undefined) this.free.set(kind, (ids = []));
    return ids;
  }

  private promisedTo(zone: string): { kind: string; id: string }[] {
    let mine = this.promised.get(zone);
    if (mine === undefined) this.promised.set(zone, (mine = []));
    return mine;
  }

  private add(kind: string, id: string): string {
    this.freeOf(kind).push(id);
    return id;
  }

  /** Makes one pair of `kind` on the key-making thread and stores it in the token under the pool's label; its id (hex). */
  private async makeOne(kind: string, urgent: boolean): Promise<string> {
    const maker = await this.makerStarted();
    const templates = keyPairTemplates(poolSpec(kind));
    const started = performance.now();
    this.makingNow.set(kind, (this.makingNow.get(kind) ?? 0) + 1);
    try {
      const pair = await maker.make(templates, urgent);
      const id = randomBytes(16);
      storeSessionPair(this.token, pair, poolLabel(kind, id), id, templates.algorithm);
      this.onEvent({ kind: 'made', key: kind, id: id.toString('hex'), ms: Math.round(performance.now() - started) });
      return id.toString('hex');
    } finally {
      this.makingNow.set(kind, (this.makingNow.get(kind) ?? 1) - 1);
    }
  }

  /** The refill in the background: one pair at a time, the kind furthest below its target first, until every kind has its target. */
  private refill(): void {
    if (this.refilling || this.closed || this.maker === undefined || this.retry !== undefined) return;
    const short = [...this.targets]
      .map(([kind, target]) => ({ kind, short: target - this.freeOf(kind).length }))
      .filter((k) => k.short > 0)
      .sort((a, b) => b.short - a.short)[0];
    if (short === undefined) return;
    this.refilling = true;
    this.makeOne(short.kind, false).then(
      (id) => {
        this.refilling = false;
        this.add(short.kind, id);
        if ([...this.targets].every(([kind, target]) => this.freeOf(kind).length >= target))
          this.onEvent({ kind: 'full', held: Object.fromEntries([...this.targets.keys()].map((k) => [k, this.freeOf(k).length])) });
        this.refill();
      },
      (e: unknown) => {
        this.refilling = false;
        if (this.closed) return;
        this.onEvent({ kind: 'failed', key: short.kind, reason: e instanceof Error ? e.message : String(e) });
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.refill();
        }, RETRY_MS);
        this.retry.unref();
      },
    );
  }
}
