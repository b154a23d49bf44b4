/**
 * How urgent a zone's signing is: `due` (nothing served yet, or its signatures near their
 * refresh: a re-sign that must happen) before `requested` (a change or a request, that may wait).
 */
export type Urgency = 'due' | 'requested';

interface Lane<T> {
  urgency: Urgency;
  readonly items: T[];
}

/**
 * The signing pool's queue (issue 20): work in lanes (one a zone's run), taken round-robin, one
 * item (a batch of signatures) from each lane in turn, so that a zone with a million records
 * does not hold a thousand small ones back; `due` lanes' work comes before `requested` lanes',
 * but not without end: after `DUE_RUN` due items in a row while requested work waits, one
 * requested item is taken, so that an operator's change is never starved by a long due re-sign
 * (a million-record zone's daily run, or a thousand zones due at once): it goes at a ninth of
 * the pool's speed meanwhile. A lane exists only while it holds work: an idle zone costs
 * nothing here. Pure: no IO, no timers.
 */
export class FairQueue<K, T> {
  /** Due items taken in a row while requested work waited. */
  private dueRun = 0;
  private readonly lanes = new Map<K, Lane<T>>();
  /** Lanes with work, in the order they are served, by urgency. */
  private readonly turns: Record<Urgency, K[]> = { due: [], requested: [] };
  private count = 0;

  /** Items queued, in every lane. */
  get size(): number {
    return this.count;
  }

  /** Queues `item` at the end of `lane`'s work; the lane takes `urgency` (a lane that becomes due moves to the due turns). */
  push(lane: K, urgency: Urgency, item: T): void {
    let l = this.lanes.get(lane);
    if (l === undefined) {
      l = { urgency, items: [] };
      this.lanes.set(lane, l);
      this.turns[urgency].push(lane);
    } else if (l.urgency !== urgency) {
      remove(this.turns[l.urgency], lane);
      l.urgency = urgency;
      this.turns[urgency].push(lane);
    }
    l.items.push(item);
    this.count++;
  }

  /** The next item: the first lane in turn (due lanes first) gives its oldest, and goes to the back of its turns. */
  next(): { readonly lane: K; readonly item: T } | undefined {
    const starved = this.turns.requested.length > 0 && this.dueRun >= DUE_RUN;
    const turns = this.turns.due.length > 0 && !starved ? this.turns.due : this.turns.requested;
    this.dueRun = turns === this.turns.due && this.turns.requested.length > 0 ? this.dueRun + 1 : 0;
    const lane = turns.shift();
    if (lane === undefined) return undefined;
    const l = this.lanes.get(lane)!;
    const item = l.items.shift()!;
    this.count--;
    if (l.items.length > 0) turns.push(lane);
    else this.lanes.delete(lane);
    return { lane, item };
  }

  /** Takes every item of `lane` out of the queue (a zone removed, or its run failed): they are returned, oldest first. */
  drop(lane: K): T[] {
    const l = this.lanes.get(lane);
    if (l === undefined) return [];
    this.lanes.delete(lane);
    remove(this.turns[l.urgency], lane);
    this.count -= l.items.length;
    return l.items;
  }

  /** Takes every item out, lane by lane. */
  clear(): T[] {
    const all = [...this.lanes.values()].flatMap((l) => l.items);
    this.lanes.clear();
    this.turns.due.length = 0;
    this.turns.requested.length = 0;
    this.count = 0;
    return all;
  }
}

/** Due items taken in a row, at most, before a requested one waiting gets its turn (FairQueue). */
export const DUE_RUN = 8;

function remove<K>(list: K[], item: K): void {
  const at = list.indexOf(item);
  if (at >= 0) list.splice(at, 1);
}
