import cron, { type ScheduledTask } from 'node-cron';
import { fnv1a } from '../common/fnv.js';

export interface TriggerHandlers {
  /** The zones served now: each is re-signed daily (DP-4.4b), at its place in the spread after the configured cron schedule. */
  readonly zones: () => Iterable<string>;
  /** The daily re-sign of one zone. */
  readonly daily: (zone: string) => void;
  /** A look at the input files, every `pollMs`. */
  readonly poll: () => void;
  /** The hourly checks: signature validity (OPS-7), the parent's DS. */
  readonly hourly: () => void;
}

/** How late the daily schedule's run may come and still run (node-cron's missedExecutionTolerance): 12 hours. */
export const LATE_RUN_MS = 12 * 3_600_000;

/**
 * What makes the service act by itself, beside operators' requests and NOTIFYs: the cron
 * schedule, the polling of input files and the hourly checks. The planner's key events are
 * one-shot timers of each zone's job (scheduler/zone-job.ts).
 */
export class Triggers {
  private cronTask: ScheduledTask | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The zones' re-signs waiting for their place in the spread. */
  private readonly spread = new Set<NodeJS.Timeout>();
  private spreadSeconds = 0;

  constructor(private readonly handlers: TriggerHandlers) {}

  /** `spreadSeconds`: the daily re-signs start over this long after the schedule fires, each zone at its own place (resignOffset). */
  start(resign: string, pollMs: number, spreadSeconds = 0): void {
    this.spreadSeconds = spreadSeconds;
    this.schedule(resign);
    this.timers.push(
      setInterval(() => this.handlers.poll(), pollMs),
      setInterval(() => this.handlers.hourly(), 3_600_000),
    );
    for (const t of this.timers) t.unref();
  }

  /** A new cron schedule and spread (a reload); re-signs already waiting for their place keep it. */
  async reschedule(resign: string, spreadSeconds = this.spreadSeconds): Promise<void> {
    this.spreadSeconds = spreadSeconds;
    await this.cronTask?.destroy();
    this.schedule(resign);
  }

  /** The schedule fired: every zone's re-sign, at its place in the spread. */
  fireDaily(): void {
    for (const zone of this.handlers.zones()) {
      const offset = resignOffset(zone, this.spreadSeconds);
      if (offset === 0) {
        this.handlers.daily(zone);
        continue;
      }
      const timer = setTimeout(() => {
        this.spread.delete(timer);
        this.handlers.daily(zone);
      }, offset * 1000);
      timer.unref();
      this.spread.add(timer);
    }
  }

  /** When the daily re-sign runs next (undefined before start). */
  nextDailyAt(): Date | undefined {
    return this.cronTask?.getNextRun() ?? undefined;
  }

  private schedule(resign: string): void {
    // DK-16: the schedule is UTC, as every time hms keeps, not the host's time zone. A run the
    // event loop reaches late (a busy or suspended host) still runs, up to LATE_RUN_MS after
    // its time: node-cron's default drops a run more than 1 s late, and with it the day's re-sign.
    this.cronTask = cron.schedule(resign, () => this.fireDaily(), {
      name: 'hms re-sign',
      noOverlap: true,
      timezone: 'UTC',
      missedExecutionTolerance: LATE_RUN_MS,
    });
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const t of this.spread) clearTimeout(t);
    this.spread.clear();
    await this.cronTask?.destroy();
  }
}

/**
 * Where in the spread a zone's daily re-sign starts, in whole seconds from 0 to `spread` − 1:
 * from a hash (FNV-1a) of its name, so that a host's zones do not all start signing in the
 * same minute, and each keeps its place day after day (issue 20 item 4).
 */
export function resignOffset(zone: string, spread: number): number {
  if (spread <= 1) return 0;
  return fnv1a(zone.toLowerCase()) % Math.floor(spread);
}
