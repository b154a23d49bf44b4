import type { UnixSeconds } from './clock.js';

/**
 * Alarms: conditions that need a person. An alarm is raised while its condition holds and
 * cleared when it ends; the sinks hear of each raise and each clear once, never every time a
 * check sees the same thing again (issue 19, item 3).
 */
export type AlarmSeverity = 'warning' | 'critical';

export interface Alarm {
  /**
   * Names the condition: raising the same key again is the same alarm, still raised. Built
   * from what it is about, e.g. `monitor.serial/example.com/ns1 192.0.2.1@53`.
   */
  readonly key: string;
  readonly severity: AlarmSeverity;
  readonly zone?: string;
  /** The server it is about (`address@port`, or a name and its address), where there is one. */
  readonly server?: string;
  /** One line for a person: what is wrong, naming the server and what it saw. */
  readonly message: string;
  /** Machine-readable particulars (serials, seconds left); never a secret. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AlarmEvent {
  readonly state: 'raised' | 'cleared';
  readonly alarm: Alarm;
  readonly at: UnixSeconds;
  /** For a clear: how long the alarm was up. */
  readonly raisedFor?: number;
}

/** What raises and clears alarms (the pipeline, the publisher, the monitor) is given this. */
export interface AlarmPort {
  /** Raises the alarm, or keeps it raised; the sinks hear again only when its severity or message changes. */
  raise(alarm: Alarm): void;
  /** Clears the alarm with this key if it is raised; nothing otherwise. */
  clear(key: string, message?: string): void;
  /** The alarms raised now, oldest first. */
  active(): readonly Alarm[];
}

/** Where raised and cleared alarms go: the log, syslog, a command, a webhook. Named in the configuration. */
export interface AlarmSink {
  readonly name: string;
  /** Delivers one event; a failure is reported by rejecting, and never stops the other sinks. */
  deliver(event: AlarmEvent): Promise<void>;
}

/**
 * The one AlarmPort: remembers what is raised, tells every sink of a raise, a change of
 * severity or message, and a clear, each once. A sink that fails is reported to `onSinkError`
 * and the others still hear.
 */
export class AlarmBoard implements AlarmPort {
  private readonly raised = new Map<string, { alarm: Alarm; since: UnixSeconds }>();

  constructor(
    private sinks: readonly AlarmSink[],
    private readonly now: () => UnixSeconds,
    private readonly onSinkError: (sink: string, event: AlarmEvent, error: unknown) => void,
  ) {}

  raise(alarm: Alarm): void {
    const before = this.raised.get(alarm.key);
    if (before !== undefined && before.alarm.severity === alarm.severity && before.alarm.message === alarm.message) {
      this.raised.set(alarm.key, { alarm, since: before.since });
      return;
    }
    const at = this.now();
    this.raised.set(alarm.key, { alarm, since: before?.since ?? at });
    this.emit({ state: 'raised', alarm, at });
  }

  clear(key: string, message?: string): void {
    const before = this.raised.get(key);
    if (before === undefined) return;
    this.raised.delete(key);
    const at = this.now();
    const alarm = message === undefined ? before.alarm : { ...before.alarm, message };
    this.emit({ state: 'cleared', alarm, at, raisedFor: at - before.since });
  }

  active(): readonly Alarm[] {
    return [...this.raised.values()].map((r) => r.alarm);
  }

  /** The sinks told now, in order. */
  get sinkList(): readonly AlarmSink[] {
    return this.sinks;
  }

  /**
   * Takes a new set of sinks (a reload of the configuration): from now on they are told. Those
   * in `fresh` (a sink not told before) hear first of every alarm raised now, as raised when
   * it was, so that a sink added to a running service knows what is wrong already.
   */
  useSinks(sinks: readonly AlarmSink[], fresh: ReadonlySet<AlarmSink>): void {
    this.sinks = sinks;
    const added = sinks.filter((s) => fresh.has(s));
    for (const { alarm, since } of this.raised.values()) this.emit({ state: 'raised', alarm, at: since }, added);
  }

  private emit(event: AlarmEvent, sinks: readonly AlarmSink[] = this.sinks): void {
    for (const sink of sinks) {
      sink.deliver(event).catch((e: unknown) => this.onSinkError(sink.name, event, e));
    }
  }
}
