import cron, { type ScheduledTask } from 'node-cron';

export interface TriggerHandlers {
  /** The daily re-sign of every zone (DP-4.4b), on the configured cron schedule. */
  readonly daily: () => void;
  /** A look at the input files, every `pollMs`. */
  readonly poll: () => void;
  /** The hourly checks: signature validity (OPS-7), the parent's DS. */
  readonly hourly: () => void;
}

/**
 * What makes the service act by itself, beside operators' requests and NOTIFYs: the cron
 * schedule, the polling of input files and the hourly checks. The planner's key events are
 * one-shot timers of each zone's job (scheduler/zone-job.ts).
 */
export class Triggers {
  private cronTask: ScheduledTask | undefined;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly handlers: TriggerHandlers) {}

  start(resign: string, pollMs: number): void {
    this.schedule(resign);
    this.timers.push(
      setInterval(() => this.handlers.poll(), pollMs),
      setInterval(() => this.handlers.hourly(), 3_600_000),
    );
    for (const t of this.timers) t.unref();
  }

  /** A new cron schedule (a reload). */
  async reschedule(resign: string): Promise<void> {
    await this.cronTask?.destroy();
    this.schedule(resign);
  }

  /** When the daily re-sign runs next (undefined before start). */
  nextDailyAt(): Date | undefined {
    return this.cronTask?.getNextRun() ?? undefined;
  }

  private schedule(resign: string): void {
    // DK-16: the schedule is UTC, as every time hms keeps, not the host's time zone
    this.cronTask = cron.schedule(resign, () => this.handlers.daily(), { name: 'hms re-sign', noOverlap: true, timezone: 'UTC' });
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.cronTask?.destroy();
  }
}
