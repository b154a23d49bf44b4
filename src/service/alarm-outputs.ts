import type { Logger } from 'pino';
import { commandAlarmSink, sinkErrorReporter, syslogAlarmSink, webhookAlarmSink, type SyslogFacility } from '../audit/alarm-sinks.js';
import { AlarmBoard, type AlarmSink } from '../common/alarms.js';
import type { UnixSeconds } from '../common/clock.js';
import type { AlarmSinkSettings } from '../config/alarms.js';
import { logAlarmSink } from './monitor-service.js';

/** The sink each `service.alarms` item names (src/audit/alarm-sinks.ts). */
export function alarmSinks(settings: readonly AlarmSinkSettings[], log: Logger): AlarmSink[] {
  return settings.map((s) => {
    switch (s.kind) {
      case 'log':
        return logAlarmSink(log);
      case 'syslog':
        return syslogAlarmSink(s.target, s.facility as SyslogFacility, s.timeoutMs);
      case 'command':
        return commandAlarmSink(s.run, s.timeoutMs);
      case 'webhook':
        return webhookAlarmSink(s.url, s.timeoutMs);
    }
  });
}

/**
 * The service's one AlarmPort: the configured sinks plus `extra` (the metrics' counter), each
 * told of a raise and a clear once; a failing sink is logged, at most once a minute per sink.
 */
export function alarmBoard(settings: readonly AlarmSinkSettings[], log: Logger, now: () => UnixSeconds, extra: readonly AlarmSink[] = []): AlarmBoard {
  return new AlarmBoard([...alarmSinks(settings, log), ...extra], now, sinkErrorReporter(log));
}

/**
 * A reload's alarm settings: the board takes the sinks `after` names, the same sink kept for a
 * setting that did not change (its failure reporting and connections with it), a new one made
 * for each new setting, and told of the alarms raised now. `extra` stays last. Returns whether
 * anything changed.
 */
export function reconfigureAlarms(
  board: AlarmBoard,
  before: readonly AlarmSinkSettings[],
  after: readonly AlarmSinkSettings[],
  log: Logger,
  extra: readonly AlarmSink[] = [],
): boolean {
  if (JSON.stringify(before) === JSON.stringify(after)) return false;
  const had = new Map(before.map((s, i) => [JSON.stringify(s), board.sinkList[i]!]));
  const fresh = new Set<AlarmSink>();
  const sinks = after.map((s) => {
    const kept = had.get(JSON.stringify(s));
    if (kept !== undefined) return kept;
    const made = alarmSinks([s], log)[0]!;
    fresh.add(made);
    return made;
  });
  board.useSinks([...sinks, ...extra], fresh);
  return true;
}
