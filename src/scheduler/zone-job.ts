/** The outcome of one run of a zone's pipeline, as the job needs it. */
export type RunOutcome =
  /** Done; the job may be asked to run again at `next` (the planner's next event). */
  | { readonly ok: true; readonly next?: number | null; readonly nextReason?: string }
  /** Failed in a way that may pass (HSM, network, a crash): retried with backoff. */
  | { readonly ok: false; readonly retry: true; readonly error: Error }
  /** Failed in a way that waits for a person (a bad input file): not retried until triggered. */
  | { readonly ok: false; readonly retry: false; readonly error: Error };

export interface ZoneJobOptions {
  /** First retry delay after a failure, doubled each time up to `maxBackoffMs` (OPS-7). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** The longest single timer (Node's limit is about 24.8 days; a day keeps the clock honest). */
  readonly maxTimerMs?: number;
  /** Wall clock in ms (tests may use fake timers). */
  readonly nowMs?: () => number;
  readonly onRetry?: (attempt: number, delayMs: number, error: Error) => void;
}

/**
 * One zone's work queue: at most one run at a time; triggers that come in while a run is
 * going are folded into a single next run (with every reason kept). A failure that may pass
 * is retried after 30 s, 1 min, 2 min ... up to an hour, until a run succeeds. A timer can
 * ask for a run at a given time (the planner's next event).
 */
export class ZoneJob {
  private running: Promise<void> | undefined;
  private reasons: string[] = [];
  private waiters: { resolve: (o: RunOutcome) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxTimerMs: number;
  private readonly nowMs: () => number;

  constructor(
    readonly zone: string,
    private readonly work: (reasons: readonly string[]) => Promise<RunOutcome>,
    private readonly options: ZoneJobOptions = {},
  ) {
    this.backoffMs = options.backoffMs ?? 30_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 3_600_000;
    this.maxTimerMs = options.maxTimerMs ?? 86_400_000;
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** Consecutive failed runs so far (0 after a success). */
  get failureCount(): number {
    return this.failures;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Asks for a run; resolves with the outcome of the run that covers this request. */
  trigger(reason: string): Promise<RunOutcome> {
    if (this.stopped) return Promise.resolve({ ok: false, retry: false, error: new Error(`zone ${this.zone}: the service is stopping`) });
    this.reasons.push(reason);
    const done = new Promise<RunOutcome>((resolve) => this.waiters.push({ resolve }));
    if (this.running === undefined) this.running = this.loop();
    return done;
  }

  /** Asks for a run at `atMs` (wall clock, ms); an earlier request replaces a later one. */
  at(atMs: number, reason: string): void {
    if (this.stopped || atMs >= this.timerAt) return;
    this.clearTimer();
    this.timerAt = atMs;
    const delay = Math.max(0, Math.min(atMs - this.nowMs(), this.maxTimerMs));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      if (this.nowMs() + 1000 < atMs) this.at(atMs, reason);
      else void this.trigger(reason);
    }, delay);
    this.timer.unref();
  }

  /** Stops taking work and waits for the run under way, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    await this.running;
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private async loop(): Promise<void> {
    while (this.reasons.length > 0 && !this.stopped) {
      const reasons = this.reasons;
      const waiters = this.waiters;
      this.reasons = [];
      this.waiters = [];
      let outcome: RunOutcome;
      try {
        outcome = await this.work(reasons);
      } catch (e) {
        outcome = { ok: false, retry: true, error: e instanceof Error ? e : new Error(String(e)) };
      }
      for (const w of waiters) w.resolve(outcome);
      if (outcome.ok) {
        this.failures = 0;
        if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        // a next event not after now would make a loop: the run just made has done what was due
        if (outcome.next !== undefined && outcome.next !== null)
          this.at(Math.max(outcome.next * 1000, this.nowMs() + 60_000), outcome.nextReason ?? 'a key event is due');
      } else {
        this.failures++;
        if (outcome.retry && !this.stopped) {
          const delay = Math.min(this.backoffMs * 2 ** (this.failures - 1), this.maxBackoffMs);
          this.options.onRetry?.(this.failures, delay, outcome.error);
          if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            void this.trigger(`retry ${this.failures} after a failure`);
          }, delay);
          this.retryTimer.unref();
        }
      }
    }
    for (const w of this.waiters.splice(0)) w.resolve({ ok: false, retry: false, error: new Error(`zone ${this.zone}: the service is stopping`) });
    this.reasons = [];
    this.running = undefined;
  }
}
