/**
 * At most `limit` runs at once, the others waiting in the order they came (issue 20 item 4):
 * the zones' runs in the service, so that a first start with many new zones serves each zone
 * as soon as it is signed and a re-sign of all does not hold every zone's buffers at once; the
 * NOTIFY and SOA queries to the secondaries, so that 1,000 zones announced to a secondary that
 * does not answer do not hold 1,000 sockets.
 */
export class RunSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Runs `fn` once a slot is free; the slot is freed when its promise settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // the slot goes straight to the next in line
      if (next !== undefined) next();
      else this.running--;
    }
  }

  /** Runs waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }
}
