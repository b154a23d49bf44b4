import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Alarm, AlarmSink } from '../common/alarms.js';
import type { UnixSeconds } from '../common/clock.js';
import { keyState, type KeyRecord } from '../enforcer/keys.js';
import type { Finding } from './types.js';

/**
 * The service's Prometheus metrics (issue 19 item 2): one registry, names in the ecosystem's
 * style (`hms_` prefix, base units, `_seconds`, `_timestamp_seconds`, `_total`, labels `zone`
 * and `server`), plus prom-client's default process and Node metrics. What depends on the time
 * (seconds until the first RRSIG expiry, key states) is worked out at each scrape from the
 * facts recorded and `now`. The HTTP endpoint is metrics-server.ts.
 */

/** What is served of a zone, read at each scrape. */
export interface ServedFacts {
  readonly zone: string;
  readonly serial: number | null;
  readonly signedAt: UnixSeconds | null;
  /** The earliest RRSIG expiration in the served version. */
  readonly expires: UnixSeconds | null;
}

/** What the metrics read from the service at each scrape. */
export interface MetricsSources {
  readonly now: () => UnixSeconds;
  readonly zones: () => readonly ServedFacts[];
  /** The alarms raised now. */
  readonly alarms: () => readonly Alarm[];
  /** The PKCS#11 sessions open on the token (0 while it is closed). */
  readonly hsmSessions: () => number;
}

/** What the monitor saw of one server of a zone (each field optional: a check that failed gives none). */
export interface ServerCheck {
  /** The smallest remaining RRSIG validity of what the server serves, in seconds (DP-2.9a). */
  readonly rrsigMinValidity?: number;
  /** How far the server's serial is behind the published one, in seconds since that was published (DP-2.9d). */
  readonly serialLag?: number;
  /** The server's clock minus ours, in seconds (DP-2.9e). */
  readonly clockSkew?: number;
  /** Whether every check of the server passed. */
  readonly ok?: boolean;
}

/** Transfer events counted as transfers, by the type they are labelled with. */
const TRANSFERS: Readonly<Record<string, string>> = {
  'transfer, AXFR sent': 'axfr',
  'transfer, IXFR sent': 'ixfr',
  'transfer, IXFR answered with the whole zone': 'ixfr-full',
  'transfer, IXFR up to date': 'ixfr-current',
  'transfer, IXFR over UDP answered with the SOA': 'ixfr-udp-soa',
};
/** Transfer events that are refusals, by the reason they are labelled with (the server's REFUSALS). */
const REFUSALS: Readonly<Record<string, string>> = {
  'transfer, refused': 'refused',
  'transfer, malformed': 'malformed',
  'transfer, dropped': 'dropped',
  'transfer, connection refused': 'connection-refused',
  'transfer, connection closed': 'connection-closed',
};

const KEY_STATES = ['generated', 'published', 'ready', 'active', 'retired'] as const;

export class HmsMetrics {
  readonly registry = new Registry();
  private readonly keys = new Map<string, { records: readonly KeyRecord[]; readyAfter: number; next: UnixSeconds | null }>();
  private readonly servers = new Map<string, Map<string, { at: UnixSeconds; check: ServerCheck }>>();
  private readonly signDuration: Gauge<'zone'>;
  private readonly signatures: Counter<'zone'>;
  private readonly signFailures: Counter<'zone' | 'stage'>;
  private readonly hsmErrors: Counter;
  private readonly transfers: Counter<'server' | 'type'>;
  private readonly refusals: Counter<'server' | 'reason'>;
  private readonly alarmEvents: Counter<'severity' | 'state'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const zones = (): readonly ServedFacts[] => sources.zones();
    const perZone = (name: string, help: string, value: (z: ServedFacts, now: UnixSeconds) => number | null): void => {
      new Gauge({
        name,
        help,
        labelNames: ['zone'],
        registers,
        collect() {
          this.reset();
          const now = sources.now();
          for (const z of zones()) {
            const v = value(z, now);
            if (v !== null) this.set({ zone: z.zone }, v);
          }
        },
      });
    };
    perZone('hms_rrsig_expiry_seconds', 'Seconds until the first RRSIG of the served version of the zone expires (negative: expired).', (z, now) =>
      z.expires === null ? null : z.expires - now,
    );
    perZone('hms_zone_serial', 'The SOA serial of the served version of the zone.', (z) => z.serial);
    perZone('hms_last_sign_timestamp_seconds', 'When the served version of the zone was signed (Unix time).', (z) => z.signedAt);
    this.signDuration = new Gauge({
      name: 'hms_last_sign_duration_seconds',
      help: 'How long the last successful signing run of the zone took.',
      labelNames: ['zone'],
      registers,
    });
    this.signatures = new Counter({ name: 'hms_signatures_total', help: 'RRSIGs made, by zone.', labelNames: ['zone'], registers });
    this.signFailures = new Counter({
      name: 'hms_sign_failures_total',
      help: 'Pipeline runs that failed, by zone and stage (input, primary, sign, hsm).',
      labelNames: ['zone', 'stage'],
      registers,
    });
    const keys = this.keys;
    new Gauge({
      name: 'hms_keys',
      help: 'Keys of the zone by role and state (RFC 7583), worked out from their times at the scrape.',
      labelNames: ['zone', 'role', 'state'],
      registers,
      collect() {
        this.reset();
        const now = sources.now();
        for (const [zone, k] of keys) {
          for (const role of new Set(k.records.map((r) => r.role))) for (const state of KEY_STATES) this.set({ zone, role, state }, 0);
          for (const r of k.records) {
            const state = keyState(r, now, k.readyAfter);
            if (state !== 'removed') this.inc({ zone, role: r.role, state });
          }
        }
      },
    });
    new Gauge({
      name: 'hms_next_key_event_timestamp_seconds',
      help: 'When the next key event of the zone is due (Unix time), as the planner says.',
      labelNames: ['zone'],
      registers,
      collect() {
        this.reset();
        for (const [zone, k] of keys) if (k.next !== null) this.set({ zone }, k.next);
      },
    });
    new Gauge({
      name: 'hms_hsm_sessions',
      help: 'PKCS#11 sessions open on the token.',
      registers,
      collect() {
        this.set(sources.hsmSessions());
      },
    });
    this.hsmErrors = new Counter({ name: 'hms_hsm_errors_total', help: 'Signing runs that failed in the HSM.', registers });
    this.transfers = new Counter({
      name: 'hms_transfers_total',
      help: 'Zone transfers served, by secondary (its name in the configuration) and type.',
      labelNames: ['server', 'type'],
      registers,
    });
    this.refusals = new Counter({
      name: 'hms_transfer_refusals_total',
      help: 'Requests refused or dropped by the transfer server, by secondary (or "unlisted") and reason.',
      labelNames: ['server', 'reason'],
      registers,
    });
    const servers = this.servers;
    const perServer = (name: string, help: string, value: (c: ServerCheck, at: UnixSeconds) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ['zone', 'server'],
        registers,
        collect() {
          this.reset();
          for (const [zone, checked] of servers)
            for (const [server, { at, check }] of checked) {
              const v = value(check, at);
              if (v !== undefined) this.set({ zone, server }, v);
            }
        },
      });
    };
    perServer(
      'hms_server_rrsig_expiry_seconds',
      'Seconds until the first RRSIG the server serves expires, when it was last checked (DP-2.9a).',
      (c) => c.rrsigMinValidity,
    );
    perServer(
      'hms_server_serial_lag_seconds',
      'How long the server has been behind the published serial, when it was last checked (DP-2.9d).',
      (c) => c.serialLag,
    );
    perServer('hms_server_clock_skew_seconds', "The server's clock minus ours, when it was last checked (DP-2.9e).", (c) => c.clockSkew);
    perServer('hms_server_check_ok', 'Whether every check of the server passed at its last check (1) or not (0).', (c) =>
      c.ok === undefined ? undefined : c.ok ? 1 : 0,
    );
    perServer('hms_server_check_timestamp_seconds', 'When the server was last checked (Unix time).', (_, at) => at);
    new Gauge({
      name: 'hms_alarms',
      help: 'Alarms raised now, by severity.',
      labelNames: ['severity'],
      registers,
      collect() {
        const active = sources.alarms();
        for (const severity of ['warning', 'critical'] as const) this.set({ severity }, active.filter((a) => a.severity === severity).length);
      },
    });
    this.alarmEvents = new Counter({
      name: 'hms_alarm_events_total',
      help: 'Alarms raised and cleared, by severity and state.',
      labelNames: ['severity', 'state'],
      registers,
    });
    this.now = sources.now;
  }

  private readonly now: () => UnixSeconds;

  /** A signing run of the zone that succeeded: how long it took and how many signatures it made. */
  recordSign(zone: string, run: { readonly seconds: number; readonly signatures: number }): void {
    this.signDuration.set({ zone }, run.seconds);
    this.signatures.inc({ zone }, run.signatures);
  }

  /** A run of the zone's pipeline that failed, and where: `input`, `primary`, `sign` or `hsm`. */
  recordFailure(zone: string, stage: 'input' | 'primary' | 'sign' | 'hsm'): void {
    this.signFailures.inc({ zone, stage });
    if (stage === 'hsm') this.hsmErrors.inc();
  }

  /** The zone's key records, the propagation interval a DNSKEY needs before it is ready, and the next key event. */
  recordKeys(zone: string, records: readonly KeyRecord[], readyAfter: number, next: UnixSeconds | null): void {
    this.keys.set(zone, { records, readyAfter, next });
  }

  /** An event of the transfer server; `server` is the secondary's name, or `unlisted`. Other events are not counted. */
  recordTransferEvent(server: string, msg: string): void {
    const type = TRANSFERS[msg];
    if (type !== undefined) this.transfers.inc({ server, type });
    const reason = REFUSALS[msg];
    if (reason !== undefined) this.refusals.inc({ server, reason });
  }

  /** What the monitor saw of one server of a zone; the time of the check is recorded with it. */
  recordServerCheck(zone: string, server: string, check: ServerCheck): void {
    const checked = this.servers.get(zone) ?? new Map<string, { at: UnixSeconds; check: ServerCheck }>();
    this.servers.set(zone, checked);
    checked.set(server, { at: this.now(), check });
  }

  /**
   * The findings of one monitor run (Monitor.listen), as a ServerCheck per zone and server:
   * the smallest RRSIG validity left, the serial lag and the clock skew it measured, and
   * whether every check of the server was OK.
   */
  recordMonitorRun(findings: readonly Finding[]): void {
    const byServer = new Map<string, Finding[]>();
    for (const f of findings) byServer.set(`${f.zone}\0${f.server}`, [...(byServer.get(`${f.zone}\0${f.server}`) ?? []), f]);
    for (const list of byServer.values()) {
      const measured = (check: Finding['check']): number | undefined => list.find((f) => f.check === check && f.value !== undefined)?.value;
      const rrsigMinValidity = measured('rrsig-validity');
      const serialLag = measured('serial');
      const clockSkew = measured('clock');
      this.recordServerCheck(list[0]!.zone, list[0]!.server, {
        ...(rrsigMinValidity === undefined ? {} : { rrsigMinValidity }),
        ...(serialLag === undefined ? {} : { serialLag }),
        ...(clockSkew === undefined ? {} : { clockSkew }),
        ok: list.every((f) => f.status === 'OK'),
      });
    }
  }

  /** A zone no longer served (or a server no longer listed): its series go. */
  forget(zone: string, server?: string): void {
    if (server !== undefined) {
      this.servers.get(zone)?.delete(server);
      return;
    }
    this.keys.delete(zone);
    this.servers.delete(zone);
    for (const m of [this.signDuration, this.signatures]) m.remove({ zone });
  }

  /** The sink that counts alarm events (the AlarmBoard hears of each raise and clear once). */
  alarmSink(): AlarmSink {
    return {
      name: 'metrics',
      deliver: (event) => {
        this.alarmEvents.inc({ severity: event.alarm.severity, state: event.state });
        return Promise.resolve();
      },
    };
  }

  /** The text exposition format (version 0.0.4), prom-client's process and Node metrics included. */
  text(): Promise<string> {
    return Registry.merge([processMetrics(), this.registry]).metrics();
  }
}

let processRegistry: Registry | undefined;

/**
 * prom-client's default metrics (`process_*`, `nodejs_*`): one registry per process, made at
 * the first scrape, so that a service without an endpoint (or many services in one test
 * process) starts no event-loop and GC observers.
 */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
