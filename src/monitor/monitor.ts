import type { AlarmPort } from '../common/alarms.js';
import type { UnixSeconds } from '../common/clock.js';
import { checkZone, worst } from './checks.js';
import type { Finding, MonitorIo, MonitorStatus, MonitorThresholds, ZoneFacts } from './types.js';

/** One run of the monitor: every finding, the worst state, and the figures monitoring systems graph. */
export interface MonitorRun {
  readonly at: UnixSeconds;
  readonly status: MonitorStatus;
  readonly findings: readonly Finding[];
  /** The largest serial lag, the smallest RRSIG validity left, the largest clock skew (seconds; null: none measured). */
  readonly serialLag: number | null;
  readonly minValidity: number | null;
  readonly clockSkew: number | null;
}

/** Nagios and Icinga plugin exit codes. */
export const PLUGIN_EXIT: Readonly<Record<MonitorStatus, number>> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };

/** The checks of every zone given, one run. */
export async function runMonitor(zones: readonly ZoneFacts[], io: MonitorIo, now: () => UnixSeconds, t: MonitorThresholds): Promise<MonitorRun> {
  const at = now();
  const findings = (await Promise.all(zones.map((z) => checkZone(z, io, now, t)))).flat();
  return summarize(at, findings);
}

export function summarize(at: UnixSeconds, findings: readonly Finding[]): MonitorRun {
  const values = (check: Finding['check']): number[] => findings.filter((f) => f.check === check && f.value !== undefined).map((f) => f.value!);
  const pick = (xs: number[], f: (...n: number[]) => number): number | null => (xs.length === 0 ? null : f(...xs));
  const skews = values('clock');
  return {
    at,
    status: findings.length === 0 ? 'UNKNOWN' : worst(findings.map((f) => f.status)),
    findings,
    serialLag: pick(values('serial'), Math.max),
    minValidity: pick(values('rrsig-validity'), Math.min),
    clockSkew: skews.length === 0 ? null : skews.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a)),
  };
}

/**
 * The plugin output (Nagios plugin guidelines): `HMS MONITOR <STATE> - <summary> | perfdata`,
 * then one line per finding that is not OK, then the OK ones.
 */
export function pluginOutput(run: MonitorRun, t: MonitorThresholds): string {
  const bad = run.findings.filter((f) => f.status !== 'OK');
  const line = (f: Finding): string => `${f.status} ${f.zone} ${f.server} ${f.check}: ${f.message}`;
  const summary =
    run.findings.length === 0
      ? 'no zone published to check'
      : bad.length === 0
        ? `${new Set(run.findings.map((f) => f.server)).size} server(s) of ${new Set(run.findings.map((f) => f.zone)).size} zone(s) OK`
        : bad
            .filter((f) => f.status === run.status)
            .map((f) => `${f.zone} ${f.server} ${f.check}: ${f.message}`)
            .join('; ');
  const perf = [
    run.serialLag === null ? undefined : `serial_lag=${run.serialLag}s;${t.serialLagWarning};${t.serialLagCritical}`,
    run.minValidity === null ? undefined : `rrsig_min_validity=${run.minValidity}s;${t.validityWarning}:;${t.validityCritical}:`,
    run.clockSkew === null ? undefined : `clock_skew=${run.clockSkew}s;${-t.clockWarning}:${t.clockWarning};${-t.clockCritical}:${t.clockCritical}`,
  ].filter((p) => p !== undefined);
  const first = `HMS MONITOR ${run.status} - ${summary}${perf.length > 0 ? ` | ${perf.join(' ')}` : ''}`;
  return [first, ...bad.map(line), ...run.findings.filter((f) => f.status === 'OK').map(line)].join('\n');
}

/** The alarm a finding raises: one per check, zone and server. */
export function alarmKey(f: Finding): string {
  return `monitor.${f.check}/${f.zone}/${f.server}`;
}

/**
 * Raises an alarm for each finding that is not OK and clears the monitor's alarms no finding
 * of this run raises (fixed, or no longer checked); the AlarmPort tells its sinks once each.
 */
export function applyAlarms(run: MonitorRun, alarms: AlarmPort): void {
  const raised = new Set<string>();
  for (const f of run.findings) {
    if (f.status === 'OK') continue;
    const key = alarmKey(f);
    raised.add(key);
    alarms.raise({
      key,
      severity: f.status === 'CRITICAL' ? 'critical' : 'warning',
      zone: f.zone,
      server: f.server,
      message: `${f.check} ${f.status}: ${f.message}`,
      details: { check: f.check, status: f.status, ...(f.value === undefined ? {} : { seconds: f.value }) },
    });
  }
  for (const a of alarms.active()) {
    if (!a.key.startsWith('monitor.') || raised.has(a.key)) continue;
    const now = run.findings.find((f) => alarmKey(f) === a.key);
    alarms.clear(a.key, now === undefined ? `${a.key.slice('monitor.'.length)}: no longer checked` : `${now.check} OK: ${now.message}`);
  }
}

export interface MonitorOptions {
  /** The zones as published now (a zone not yet published is left out). */
  readonly facts: () => Promise<readonly ZoneFacts[]>;
  readonly io: () => MonitorIo;
  readonly thresholds: () => MonitorThresholds;
  /** Seconds between runs; 0: the monitor is off. Read before each run (a reload may change it). */
  readonly interval: () => number;
  readonly alarms: AlarmPort;
  readonly now: () => UnixSeconds;
  /** A run could not be made (the facts could not be read). */
  readonly onError: (error: unknown) => void;
}

/**
 * The monitor inside `hms run`: every `interval` seconds the checks of every zone, their
 * alarms raised and cleared, and each run handed to the listeners (metrics).
 */
export class Monitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly listeners = new Set<(run: MonitorRun) => void>();

  constructor(private readonly options: MonitorOptions) {}

  /** Hears every run; returns how to stop hearing. */
  listen(listener: (run: MonitorRun) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.schedule();
  }

  /** Runs the checks now (one run at a time) and returns the run. */
  async runOnce(): Promise<MonitorRun> {
    const o = this.options;
    const run = await runMonitor(await o.facts(), o.io(), o.now, o.thresholds());
    if (this.stopped) return run;
    applyAlarms(run, o.alarms);
    for (const l of this.listeners) l(run);
    return run;
  }

  private schedule(): void {
    const seconds = this.options.interval();
    if (this.stopped) return;
    // off (0): looked at again a minute later, so a reload can turn it on
    this.timer = setTimeout(
      () => {
        if (seconds === 0 || this.options.interval() === 0) return this.schedule();
        this.running = this.runOnce().then(
          () => undefined,
          (e: unknown) => this.options.onError(e),
        );
        void this.running.finally(() => this.schedule());
      },
      (seconds === 0 ? 60 : seconds) * 1000,
    );
    this.timer.unref();
  }

  /** No more runs; resolves once the one under way (bounded by its timeouts) has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
