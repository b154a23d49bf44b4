/**
 * Refusals counted, not logged one by one (issue 17 item 3): a flood of unlisted peers, bad
 * TSIG or malformed messages wrote a log line per packet (30 MB in, 170 MB of log out). Each
 * refusal is counted by reason and peer; at most one summary line goes out per interval, the
 * first at once, the rest when the interval since the last line has passed.
 */

/** The summary of the refusals of one interval. */
export interface RefusalSummary {
  readonly msg: 'transfer, refusals';
  /** How many, in all. */
  readonly refused: number;
  /** How many, by reason (`refused: address not listed`, `connection closed: idle` ...). */
  readonly reasons: Readonly<Record<string, number>>;
  /** The peers that were refused most, with their counts (the first five). */
  readonly peers: readonly { readonly peer: string; readonly count: number }[];
  /** How many different addresses were refused. */
  readonly addresses: number;
  /** The seconds the counts cover. */
  readonly seconds: number;
}

/** The distinct reasons and peers counted by name; beyond these, under `other` (memory stays bounded). */
const MAX_REASONS = 32;
const MAX_PEERS = 4096;
const TOP_PEERS = 5;

export class RefusalCounter {
  private reasons = new Map<string, number>();
  private peers = new Map<string, number>();
  private refused = 0;
  private since: number;
  /** When the last summary went out (never: long ago). */
  private last = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (summary: RefusalSummary) => void,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.since = nowMs();
  }

  /** One refusal: `kind` is the event (`refused`, `malformed`, `connection closed` ...), `reason` why. */
  add(peer: string, kind: string, reason: string | undefined): void {
    if (this.refused === 0) this.since = this.nowMs();
    this.refused++;
    bump(this.reasons, reasonKey(kind, reason), MAX_REASONS);
    bump(this.peers, peer === '' ? 'unknown' : peer, MAX_PEERS);
    if (this.timer !== undefined) return;
    const wait = this.last + this.intervalMs - this.nowMs();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.timer = setTimeout(() => this.flush(), wait);
    this.timer.unref();
  }

  /** The summary of what was counted since the last one, if anything was (at stop too). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.refused === 0) return;
    const now = this.nowMs();
    const peers = [...this.peers]
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP_PEERS)
      .map(([peer, count]) => ({ peer, count }));
    const addresses = this.peers.size - (this.peers.has('other') ? 1 : 0);
    const summary: RefusalSummary = {
      msg: 'transfer, refusals',
      refused: this.refused,
      reasons: Object.fromEntries(this.reasons),
      peers,
      addresses,
      seconds: Math.round((now - this.since) / 1000),
    };
    this.reasons = new Map();
    this.peers = new Map();
    this.refused = 0;
    this.last = now;
    this.emit(summary);
  }
}

/** `refused: BADTIME` for `BADTIME (signed 1, now 2, fudge 300)`: the figures would make every line a reason of its own. */
function reasonKey(kind: string, reason: string | undefined): string {
  const why = (reason ?? '').replace(/\s*\(.*$/s, '').slice(0, 100);
  return why === '' ? kind : `${kind}: ${why}`;
}

function bump(counts: Map<string, number>, key: string, max: number): void {
  const at = counts.has(key) || counts.size < max - 1 ? key : 'other';
  counts.set(at, (counts.get(at) ?? 0) + 1);
}
