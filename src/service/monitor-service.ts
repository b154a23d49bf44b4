import type { Logger } from 'pino';
import type { AlarmSink } from '../common/alarms.js';
import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import type { AlarmPort } from '../common/alarms.js';
import type { HmsConfig } from '../config/config.js';
import { networkIo } from '../monitor/io.js';
import { Monitor } from '../monitor/monitor.js';
import type { ZoneFacts } from '../monitor/types.js';
import type { Keeper } from './keeper.js';
import { monitorFacts } from './monitor-facts.js';
import type { Publisher } from './publisher.js';

/** Alarms into the service's log: a raise as an error line marked `alarm`, a clear as an info line. */
export function logAlarmSink(log: Logger): AlarmSink {
  return {
    name: 'log',
    deliver: (event) => {
      const { alarm } = event;
      const fields = {
        alarm: event.state === 'raised',
        alarmKey: alarm.key,
        severity: alarm.severity,
        zone: alarm.zone,
        server: alarm.server,
        ...alarm.details,
      };
      if (event.state === 'raised') log.error({ ...fields, at: isoSeconds(event.at) }, `ALARM raised: ${alarm.message}`);
      else log.info({ ...fields, raisedFor: event.raisedFor }, `ALARM cleared: ${alarm.message}`);
      return Promise.resolve();
    },
  };
}

/**
 * The monitor of `hms run` (issue 19 item 1): every `monitor-interval` the checks of each zone
 * served (the version published now, its keys, the secondaries listed and its NS set), its
 * alarms raised and cleared through `alarms`. The daemon starts and stops it.
 */
export function serviceMonitor(o: {
  readonly config: () => HmsConfig;
  readonly keeper: Keeper;
  readonly publisher: Publisher;
  readonly alarms: AlarmPort;
  readonly log: Logger;
  readonly now: () => UnixSeconds;
}): Monitor {
  const facts = async (): Promise<ZoneFacts[]> => {
    const service = o.config().service;
    const out: ZoneFacts[] = [];
    for (const z of service.zones) {
      const signed = o.publisher.served(z.name);
      if (signed === undefined) continue;
      const row = o.keeper.store.getZone(z.name);
      // the version stays readable while its glue is looked up, should a newer one be published meanwhile
      const release = signed.retain();
      try {
        out.push(
          await monitorFacts(service, z.name, {
            signed,
            signedAt: o.publisher.facts(z.name).signedAt,
            keys: o.keeper.store.keys(z.name),
            parentServers: row?.parentServers ?? [],
          }),
        );
      } finally {
        release();
      }
    }
    return out;
  };
  const monitor = new Monitor({
    facts,
    io: () => networkIo({ timeoutMs: o.config().service.monitor.timeoutMs, source: o.config().service.source }),
    thresholds: () => o.config().service.monitor,
    interval: () => o.config().service.monitor.interval,
    alarms: o.alarms,
    now: o.now,
    onError: (e) => o.log.warn({ reason: e instanceof Error ? e.message : String(e) }, 'monitor, the run failed; it is tried again at the next interval'),
  });
  monitor.listen((run) =>
    o.log.info(
      {
        status: run.status,
        findings: run.findings.filter((f) => f.status !== 'OK').length,
        serialLag: run.serialLag,
        minValidity: run.minValidity,
        clockSkew: run.clockSkew,
      },
      'monitor, run done',
    ),
  );
  return monitor;
}
