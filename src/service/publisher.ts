import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AlarmPort } from '../common/alarms.js';
import { RunSlots } from '../common/run-slots.js';
import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import type { HmsConfig } from '../config/config.js';
import { Name } from '../dns/name.js';
import { confirmPublication, keysEntering } from '../enforcer/publication.js';
import { Journal } from '../transfer/journal.js';
import { notifySecondaries, type SecondaryReport } from '../transfer/notify.js';
import { soaRecord } from '../zone/diff.js';
import type { ServedVersion } from '../zone/version.js';
import type { Acting, Keeper } from './keeper.js';

/** What became of a zone's served version after a change: signed, published, seen on the secondaries. */
export interface Publication {
  readonly zone: string;
  /** The serial published, or null when the zone is not served here (not in the configuration) or signing failed. */
  readonly serial: number | null;
  /** Each secondary: the serial it was seen serving, and whether that is the new one. */
  readonly secondaries: readonly { readonly secondary: string; readonly serial: number | null; readonly isCurrent: boolean }[];
  /** When every secondary was seen serving it (the moment the roll's next steps count from); null: not all were. */
  readonly servedAt: UnixSeconds | null;
  /** Why it was not published, if it was not. */
  readonly problem: string | null;
}

/** What is served of one zone: the signed version, its journal of diffs for IXFR, and its last announcement. */
interface Served {
  /** Held (ServedVersion.release when another takes its place or the zone is closed). */
  version: ServedVersion | undefined;
  serial: number | null;
  signedAt: UnixSeconds | null;
  /** The earliest signature expiration in the served version. */
  expires: UnixSeconds | null;
  readonly journal: Journal;
  /** The last version published: NOTIFY sent, then the secondaries seen serving it (or not). */
  announced: Promise<Publication> | undefined;
}

export interface PublisherOptions {
  readonly config: () => HmsConfig;
  readonly keeper: Keeper;
  readonly log: Logger;
  readonly now: () => UnixSeconds;
  readonly acting: (comment: string) => Acting;
  /** A key event of the zone moved to `at` (its publication was confirmed later than planned). */
  readonly replanned: (zone: string, at: UnixSeconds) => void;
  /** Where alarms are raised and cleared (the service's AlarmBoard). */
  readonly alarms: AlarmPort;
}

/**
 * NOTIFY and SOA queries out at once to one secondary, of every zone: each holds a UDP socket
 * until answered or timed out, and a re-sign of 1,000 zones listed with a secondary that does
 * not answer held a socket each for the minute of their retries (a service under systemd has
 * 1,024 descriptors unless told otherwise). Those waiting go in turn; an answering secondary
 * takes a few milliseconds a query, and one that does not answer delays only its own.
 */
const QUERIES_AT_ONCE = 32;

/** The keys of the alarms the publisher raises for a zone. */
export const publishAlarm = {
  dnskey: (zone: string) => `publish.dnskey/${zone}`,
  expiring: (zone: string) => `signatures.expiring/${zone}`,
};

/**
 * The publishing end of the service: the signed version served for each zone (what the
 * transfer server hands out, with its IXFR journal), the NOTIFY of each new version to the
 * zone's secondaries with their serials checked (DP-3.2), the key publications confirmed from
 * when every secondary serves them, and the alarm while served signatures run out (OPS-7).
 */
export class Publisher {
  private readonly zones = new Map<string, Served>();
  /** Aborts the NOTIFY retries and serial checks under way when the service stops. */
  private readonly stopped = new AbortController();
  private readonly notifying = new Set<Promise<unknown>>();
  /** By secondary (address and port), its NOTIFY and SOA queries out at once, of every zone (QUERIES_AT_ONCE). */
  private readonly queries = new Map<string, RunSlots>();

  constructor(private readonly options: PublisherOptions) {}

  private get log(): Logger {
    return this.options.log;
  }

  /** Starts serving a zone: its journal is opened, nothing is served until a version is published. */
  open(zone: string): void {
    const config = this.options.config().service;
    const journal = Journal.open({
      file: join(config.data, 'journal', `${zone}journal`),
      origin: Name.parse(zone),
      maxVersions: config.journalVersions,
      maxBytes: config.journalBytes,
      log: ({ msg, level, ...event }) => this.log[level](event, msg),
    });
    this.zones.set(zone, { version: undefined, serial: null, signedAt: null, expires: null, journal, announced: undefined });
  }

  /** Stops serving a zone. */
  close(zone: string): void {
    this.zones.get(zone)?.version?.release();
    this.zones.delete(zone);
    for (const key of Object.values(publishAlarm)) this.options.alarms.clear(key(zone), `zone ${zone} is no longer served`);
  }

  /** The signed version served for a zone, if any (a caller that reads it after an await retains it meanwhile). */
  served(zone: string): ServedVersion | undefined {
    return this.zones.get(zone)?.version;
  }

  journal(zone: string): Journal | undefined {
    return this.zones.get(zone)?.journal;
  }

  /** What is served: serial, signing time, earliest expiration. */
  facts(zone: string): { serial: number | null; signedAt: UnixSeconds | null; expires: UnixSeconds | null } {
    const s = this.zones.get(zone);
    return { serial: s?.serial ?? null, signedAt: s?.signedAt ?? null, expires: s?.expires ?? null };
  }

  /**
   * Serves `version` from now, taking over the caller's hold on it (the one released when
   * another takes its place); with `announce` (a new version, not one resumed at start) its
   * diff goes into the journal, and it is NOTIFYed and confirmed.
   */
  publish(zone: string, version: ServedVersion, signedAt: UnixSeconds | null, announce = false): void {
    const s = this.zones.get(zone);
    if (s === undefined) {
      version.release();
      return;
    }
    const old = s.version;
    // the diff is appended (and synced) before the version is announced, so a served serial's
    // diff is never lost; both versions stay readable until it is written (a walk of the two)
    let written = Promise.resolve();
    if (old !== undefined && announce) {
      const holds = [old.retain(), version.retain()];
      written = s.journal.addVersion(old, version).then(
        () => undefined,
        (e: unknown) => {
          // IXFR then answers with the whole zone: slower, never wrong
          this.log.error({ zone, reason: e instanceof Error ? e.message : String(e) }, 'the journal could not be written');
        },
      );
      void written.finally(() => holds.forEach((release) => release()));
    }
    old?.release();
    s.version = version;
    s.serial = version.serial;
    s.signedAt = signedAt;
    s.expires = version.expires;
    if (announce) s.announced = written.then(() => this.announce(zone, old, version, signedAt ?? this.options.now()));
    this.checkValidity(zone);
  }

  /**
   * The last version's announcement, once every secondary serves it, or after `waitMs` (a
   * secondary that is down must not hold an operator's command for the NOTIFY's whole retry time).
   */
  async lastAnnouncement(zone: string, waitMs: number): Promise<Publication> {
    const s = this.zones.get(zone);
    const none = { zone, serial: null, secondaries: [], servedAt: null };
    if (s?.announced === undefined) return { ...none, problem: 'nothing was published' };
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
    const seen = await Promise.race([s.announced, late]);
    clearTimeout(timer);
    return (
      seen ?? {
        ...none,
        serial: s.serial,
        problem: `not every secondary was seen serving it within ${Math.round(waitMs / 1000)} s; the roll's next steps count from when they are (the log says when; hms key list shows the times)`,
      }
    );
  }

  /**
   * NOTIFY of a new version, then its secondaries seen serving it; a key that entered the
   * DNSKEY RRset with it counts as published from then (RFC 7583's intervals start when
   * resolvers can see the record), so the roll's next steps are re-timed (`confirmPublication`).
   */
  private async announce(zone: string, before: ServedVersion | undefined, version: ServedVersion, signedAt: UnixSeconds): Promise<Publication> {
    const reports = await this.notify(zone, version);
    const serial = version.serial;
    const allCurrent = reports.every((r) => r.isCurrent);
    const seenAt = this.options.now();
    if (allCurrent) this.options.alarms.clear(publishAlarm.dnskey(zone), `zone ${zone}: every secondary serves serial ${serial}`);
    if (!this.stopped.signal.aborted) this.confirm(zone, serial, before, version, signedAt, seenAt, reports);
    return {
      zone,
      serial,
      problem: allCurrent ? null : 'not every secondary serves it yet',
      secondaries: reports.map((r) => ({ secondary: r.secondary, serial: r.serial ?? null, isCurrent: r.isCurrent })),
      servedAt: allCurrent ? seenAt : null,
    };
  }

  /** Re-times the keys that entered the DNSKEY RRset with the version from when it was seen served. */
  private confirm(
    zone: string,
    serial: number,
    before: ServedVersion | undefined,
    version: ServedVersion,
    signedAt: UnixSeconds,
    seenAt: UnixSeconds,
    reports: readonly SecondaryReport[],
  ): void {
    const { keeper } = this.options;
    try {
      const row = keeper.store.getZone(zone);
      if (row === undefined) return;
      const keys = keeper.store.keys(zone);
      const entering = keysEntering(keys, before?.dnskeys, version.dnskeys);
      const actions = confirmPublication(keys, entering, signedAt, seenAt);
      if (actions.length === 0) return;
      const behind = reports.filter((r) => !r.isCurrent).map((r) => r.secondary);
      if (behind.length > 0) {
        this.log.warn({ alarm: true, zone, serial, behind }, 'ALARM: not every secondary serves the new DNSKEY set; the roll counts from now, check them');
        this.options.alarms.raise({
          key: publishAlarm.dnskey(zone),
          severity: 'warning',
          zone,
          message: `zone ${zone}: ${behind.join(', ')} do(es) not serve serial ${serial} with the new DNSKEY set; the roll counts from now, check them`,
          details: { serial, behind },
        });
      }
      keeper.apply(
        row,
        actions,
        this.options.acting(`serial ${serial} served by ${reports.length === 0 ? 'this primary (no secondaries)' : 'the secondaries'}`),
      );
      const next = keeper.plan(keeper.zone(zone), this.options.now()).next;
      if (next !== null) this.options.replanned(zone, next);
      this.log.info(
        { zone, serial, keyTags: entering.map((k) => k.keyTag), at: isoSeconds(seenAt) },
        'keys, publication confirmed: the next steps count from now',
      );
    } catch (e) {
      this.log.error({ zone, serial, reason: e instanceof Error ? e.message : String(e) }, 'keys, publication could not be recorded');
    }
  }

  /** NOTIFY (TSIG-signed) to the zone's secondaries, retried until acknowledged; then their SOA serials checked (DP-3.2). */
  private async notify(zone: string, version: ServedVersion): Promise<SecondaryReport[]> {
    const service = this.options.config().service;
    const listed = service.zones.find((z) => z.name === zone)?.secondaries ?? [];
    const targets = service.secondaries
      .filter((s) => listed.includes(s.name))
      .map((s) => ({ ...s.notify, key: service.tsigKeys.find((k) => k.name.equals(Name.parse(`${s.key}.`)))! }));
    if (targets.length === 0) return [];
    const done = notifySecondaries(version.origin, soaRecord(version), targets, {
      signal: this.stopped.signal,
      slots: (s) => {
        const at = `${s.address}#${s.port}`;
        let slots = this.queries.get(at);
        if (slots === undefined) this.queries.set(at, (slots = new RunSlots(QUERIES_AT_ONCE)));
        return slots;
      },
      source: service.source,
      log: ({ msg, ...event }) => this.log.info(event, msg),
      onReport: (r) => {
        const level = r.isCurrent ? 'info' : 'warn';
        this.log[level](
          { zone, secondary: r.secondary, acknowledged: r.isAcknowledged, serial: r.serial, lagMs: r.lagMs, errors: r.errors },
          r.isCurrent ? 'secondary serves the new version' : 'secondary does not serve the new version',
        );
      },
    });
    this.notifying.add(done);
    try {
      return await done;
    } finally {
      this.notifying.delete(done);
    }
  }

  /**
   * OPS-7: an alarm while any served signature has less than `alarm-validity` left (of one
   * zone, or of each); cleared once a version with longer signatures is served.
   */
  checkValidity(only?: string): void {
    const now = this.options.now();
    for (const [zone, s] of this.zones) {
      if (s.expires === null || (only !== undefined && zone !== only)) continue;
      const left = s.expires - now;
      if (left < this.options.config().service.alarmValidity) {
        this.log.error(
          { alarm: true, zone, serial: s.serial, expires: isoSeconds(s.expires), hoursLeft: Math.floor(left / 3600) },
          left <= 0 ? 'ALARM: the served signatures have expired' : 'ALARM: the served signatures expire soon',
        );
        // the message changes when they expire, not every hour: the sinks hear of it once each
        this.options.alarms.raise({
          key: publishAlarm.expiring(zone),
          severity: left <= 0 ? 'critical' : 'warning',
          zone,
          message: `zone ${zone}: the served signatures (serial ${s.serial}) ${left <= 0 ? 'have expired' : 'expire'} at ${isoSeconds(s.expires)}`,
          details: { serial: s.serial, expires: isoSeconds(s.expires), hoursLeft: Math.floor(left / 3600) },
        });
      } else {
        this.options.alarms.clear(publishAlarm.expiring(zone), `zone ${zone}: the served signatures (serial ${s.serial}) last until ${isoSeconds(s.expires)}`);
      }
    }
  }

  /** The NOTIFY retries and serial checks under way are stopped; resolves when they have. */
  async stop(): Promise<void> {
    this.stopped.abort();
    await Promise.allSettled([...this.notifying, ...[...this.zones.values()].map((s) => s.journal.settled())]);
  }

  /** Lets go of every version served (their files closed once no transfer reads them): after the transfer server has stopped. */
  releaseAll(): void {
    for (const s of this.zones.values()) {
      s.version?.release();
      s.version = undefined;
    }
  }
}
