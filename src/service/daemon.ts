import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import type { Operator } from '../config/access.js';
import { loadConfig, type HmsConfig } from '../config/config.js';
import { describeSource, type ServiceZone } from '../config/service.js';
import { Name } from '../dns/name.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import { RRType } from '../dns/types.js';
import { HsmError } from '../hsm/errors.js';
import { auditSink } from '../audit/logger.js';
import { ZoneJob, type RunOutcome } from '../scheduler/zone-job.js';
import { fetchZone } from '../transfer/fetch-zone.js';
import { Journal } from '../transfer/journal.js';
import { notifySecondaries, type SecondaryReport } from '../transfer/notify.js';
import { startTransferServer, type AclEntry, type TransferServer } from '../transfer/server.js';
import { soaRecord } from '../zone/diff.js';
import { writeZoneFileAtomically } from '../storage/zone-files.js';
import { canonicalText } from './revisions.js';
import { checkZone } from '../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../zone/findings.js';
import type { Zone } from '../zone/zone.js';
import { Keeper, type Acting } from './keeper.js';
import { loadZoneFile } from './load-zone.js';
import { checkParentDs } from './parent-check.js';
import { keepRevision, revisionDigest } from './revisions.js';
import { signManagedZone } from './sign-managed.js';
import { confirmPublication, keysEntering } from '../enforcer/publication.js';
import { peerOperator } from '../config/identity.js';
import { Authority, type Answer, type Publication } from './authority.js';
import type { ServiceActions, ServiceRequest } from './operations.js';
import type { PeerCredentials } from './os.js';
import { lockHolder, tryLockState, type StateLock } from './state-lock.js';

export interface ServiceOptions {
  readonly configFile: string;
  readonly log: Logger;
  /** Who the service acts as in the audit trail. */
  readonly operator: Operator;
  /** The clock (tests may move it); default the system's. */
  readonly now?: () => UnixSeconds;
  /** How often the input files are looked at for changes (default 2 s). */
  readonly watchMs?: number;
  /** First retry delay after a failure (default 30 s). */
  readonly backoffMs?: number;
  /** How long a request waits for the secondaries to serve its change before it answers (default 30 s). */
  readonly requestWaitMs?: number;
}

/** What the service knows of one zone while it runs. */
export interface ZoneStatus {
  readonly zone: string;
  /** The serial of the signed version being served, if any. */
  readonly serial: number | null;
  readonly signedAt: UnixSeconds | null;
  /** The earliest signature expiration in the served version. */
  readonly expires: UnixSeconds | null;
  readonly failures: number;
  readonly lastError: string | null;
  readonly busy: boolean;
}

interface ZoneState {
  config: ServiceZone;
  job: ZoneJob;
  served: Zone | undefined;
  serial: number | null;
  signedAt: UnixSeconds | null;
  expires: UnixSeconds | null;
  lastError: string | null;
  /** The input file as last seen: a change of any of these is a new input. */
  stamp: string;
  /** The signed versions' diffs, for IXFR. */
  journal: Journal;
  /** A zone from an upstream primary: the unsigned version held. */
  upstream: Zone | undefined;
  /** The last version published: NOTIFY sent, then the secondaries seen serving it (or not). */
  announced: Promise<Publication> | undefined;
}

/**
 * `hms run`: the hidden master. For every configured zone it runs the pipeline (load, check,
 * keep the revision, sign, verify, commit, publish) one job at a time: daily by the cron
 * schedule (DP-4.4b), at the planner's next key event, when the input changes, and when asked
 * (`hms zone resign`). A failure at any stage keeps the last good version served and is
 * retried with backoff (OPS-7); an alarm is logged while the served signatures have less
 * validity left than `alarm-validity`. The signed versions are served to the listed
 * secondaries only, TSIG-signed (DP-3.2, DP-3.5).
 */
export class Service {
  private config: HmsConfig;
  private readonly zones = new Map<string, ZoneState>();
  private server: TransferServer | undefined;
  private cronTask: ScheduledTask | undefined;
  private watcher: NodeJS.Timeout | undefined;
  private alarmTimer: NodeJS.Timeout | undefined;
  private readonly now: () => UnixSeconds;
  private stopping = false;
  /** Aborts the NOTIFY retries and serial checks under way when the service stops. */
  private readonly stopped = new AbortController();
  private readonly notifying = new Set<Promise<unknown>>();
  /** Operators' requests from the control socket, applied one at a time. */
  readonly authority: Authority;

  private constructor(
    private readonly options: ServiceOptions,
    config: HmsConfig,
    private readonly keeper: Keeper,
    private readonly lock: StateLock,
  ) {
    this.config = config;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    const service: ServiceActions = {
      resign: (zone, reason) => this.resign(zone, reason),
      reload: () => this.reload(),
      status: () => this.status(),
    };
    this.authority = new Authority({ keeper, get config() { return keeper.config; }, service }, { now: this.now, publish: (zone, reason) => this.publishNow(zone, reason) });
  }

  /** Reads the configuration, opens the state and the HSM, serves the last signed versions, and starts the schedule. */
  static async start(options: ServiceOptions): Promise<Service> {
    const config = loadConfig(options.configFile);
    // the one writer of the state while it runs (ARCHITECTURE.md): the CLI then asks it
    const lock = tryLockState(config.state, 'hms run');
    if (lock === undefined) throw new SignerError('USAGE', `${config.state}: another hms holds the state (${lockHolder(config.state)}); one service per state file`);
    let keeper: Keeper;
    try {
      keeper = Keeper.open(config, { auditSink: auditSink(options.log) });
    } catch (e) {
      lock.release();
      throw e;
    }
    const service = new Service(options, config, keeper, lock);
    try {
      await service.begin();
    } catch (e) {
      await service.stop();
      throw e;
    }
    return service;
  }

  private get log(): Logger {
    return this.options.log;
  }

  private acting(comment: string): Acting {
    return { who: this.options.operator, at: this.now(), ticket: null, comment };
  }

  private signedPath(zone: string): string {
    return join(this.config.service.data, 'signed', `${zone}signed`);
  }

  private async begin(): Promise<void> {
    for (const dir of ['signed', 'journal', 'upstream']) mkdirSync(join(this.config.service.data, dir), { recursive: true, mode: 0o750 });
    this.checkPolicies(this.config);
    for (const z of this.config.service.zones) this.addZone(z);
    for (const state of this.zones.values()) this.resume(state);
    await this.listen();
    this.scheduleResign();
    this.watcher = setInterval(() => this.watchInputs(), this.options.watchMs ?? 2000);
    this.alarmTimer = setInterval(() => {
      this.checkValidity();
      for (const zone of this.zones.keys()) void this.checkParent(zone);
    }, 3_600_000);
    this.watcher.unref();
    this.alarmTimer.unref();
    this.log.info({ zones: [...this.zones.keys()], listen: this.server?.addresses ?? [], source: describeSource(this.config.service.source), resign: this.config.service.resign }, 'service started');
    for (const state of this.zones.values()) {
      const why = this.due(state);
      if (why !== null) void state.job.trigger(why);
      else this.resumePlan(state);
    }
  }

  /** The re-sign of every zone on the configured cron schedule (DP-4.4b). */
  private scheduleResign(): void {
    this.cronTask = cron.schedule(this.config.service.resign, () => {
      for (const state of this.zones.values()) void state.job.trigger('daily re-sign (DP-4.4b)');
    }, { name: 'hms re-sign', noOverlap: true });
  }

  private async listen(): Promise<void> {
    const service = this.config.service;
    if (service.listen.length === 0) return;
    this.server = await startTransferServer({
      listen: service.listen,
      zones: (name) => this.zones.get(name.toLowerCase().toString())?.served,
      keys: service.tsigKeys,
      acl: this.acl(),
      journal: (name) => this.zones.get(name.toLowerCase().toString())?.journal,
      onNotify: (name, peer) => {
        const state = this.zones.get(name.toLowerCase().toString());
        if (state?.config.input.kind === 'primary' && state.config.input.primary.address === peer) void state.job.trigger(`NOTIFY from the primary ${peer}`);
      },
      log: ({ msg, ...event }) => this.log.info(event, msg),
    });
  }

  /** What the transfer server is started with, as one string: a change restarts it. */
  private transferSettings(): string {
    const keys = this.config.service.tsigKeys.map((k) => [k.name.toString(), k.algorithm, createHash('sha256').update(k.secret).digest('hex')]);
    return JSON.stringify([this.config.service.listen, this.acl(), keys]);
  }

  /**
   * Who may ask what (DP-3.2b): each secondary the zones it is listed for, with its key; each
   * upstream primary a NOTIFY for its zone, nothing more.
   */
  private acl(): AclEntry[] {
    const { secondaries, zones } = this.config.service;
    return [
      ...secondaries.map((s) => ({ address: s.address, key: s.key, zones: zones.filter((z) => z.secondaries.includes(s.name)).map((z) => z.name) })),
      ...zones.flatMap((z) => (z.input.kind === 'primary' ? [{ address: z.input.primary.address, key: z.input.key, zones: [z.name], notifyOnly: true }] : [])),
    ];
  }

  /** Every configured zone names a policy the policy files hold. */
  private checkPolicies(config: HmsConfig): void {
    for (const z of config.service.zones) {
      try {
        this.keeper.policy(z.policy);
      } catch (e) {
        throw new SignerError('CONFIG', `${config.file}: zone ${z.name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  private addZone(config: ServiceZone): void {
    const job = new ZoneJob(config.name, (reasons) => this.pipeline(config.name, reasons), {
      nowMs: () => this.now() * 1000,
      ...(this.options.backoffMs === undefined ? {} : { backoffMs: this.options.backoffMs }),
      onRetry: (attempt, ms, error) => this.log.warn({ zone: config.name, attempt, retryInMs: ms, reason: error.message }, 'pipeline failed; the last good version stays served; retrying'),
    });
    const journal = Journal.open({
      file: join(this.config.service.data, 'journal', `${config.name}journal`), origin: Name.parse(config.name), maxVersions: this.config.service.journalVersions,
      log: ({ msg, ...event }) => this.log.warn(event, msg),
    });
    this.zones.set(config.name, { config, job, served: undefined, serial: null, signedAt: null, expires: null, lastError: null, stamp: '', journal, upstream: undefined, announced: undefined });
  }

  /** Serves the signed version left by the last run, if there is one (a restart resumes, OPS-7). */
  private resume(state: ZoneState): void {
    const path = this.signedPath(state.config.name);
    let zone: Zone;
    try {
      zone = loadZoneFile(path, Name.parse(state.config.name));
    } catch (e) {
      if (e instanceof SignerError && e.code === 'IO') return;
      this.log.error({ zone: state.config.name, file: path, reason: e instanceof Error ? e.message : String(e) }, 'the last signed version cannot be read; it will be made again');
      return;
    }
    this.publish(state, zone, this.keeper.store.getZone(state.config.name)?.lastSigned ?? null);
    state.stamp = this.stampOf(state.config);
    if (state.config.input.kind === 'primary') {
      try {
        state.upstream = loadZoneFile(this.inputFile(state.config), Name.parse(state.config.name));
      } catch {
        // none kept yet: the next run transfers the whole zone
      }
    }
  }

  /**
   * A zone whose signed version is current: its keys are checked against the HSM (a key
   * missing there is an alarm, never a new key) and the next key event is timed.
   */
  private resumePlan(state: ZoneState): void {
    const name = state.config.name;
    try {
      const p = this.keeper.plan(this.keeper.zone(name), this.now());
      this.log.info({ zone: name, serial: state.serial, next: p.next === null ? null : isoSeconds(p.next) }, 'zone resumed: the signed version on disk is current');
      if (p.actions.length > 0) void state.job.trigger('a key event is due');
      else if (p.next !== null) state.job.at(p.next * 1000, 'a key event is due');
    } catch (e) {
      state.lastError = e instanceof Error ? e.message : String(e);
      this.log.error({ alarm: true, zone: name, reason: state.lastError, serving: state.serial }, 'ALARM: the zone cannot be planned; the last signed version stays served');
      void state.job.trigger('retry after the failure at start');
    }
  }

  /** Why the zone needs signing now, or null when the served version is current. */
  private due(state: ZoneState): string | null {
    if (state.served === undefined) return 'no signed version yet';
    const row = this.keeper.store.getZone(state.config.name);
    if (row === undefined || row.lastSigned === null) return 'not signed yet';
    if (row.input !== this.inputFile(state.config) || row.policy !== state.config.policy) return 'the configuration changed';
    const policy = this.keeper.policy(row.policy);
    if (this.now() >= row.lastSigned + policy.signatures.resignInterval) return 're-sign interval reached';
    if (state.config.input.kind === 'primary') return 'refresh from the primary';
    // an input changed while the service was down differs from the newest revision
    const newest = this.keeper.store.revisions(state.config.name, 1)[0];
    try {
      if (newest === undefined || revisionDigest(loadZoneFile(this.inputFile(state.config), Name.parse(state.config.name))) !== newest.sha256) return 'the input changed since the last run';
    } catch {
      return 'the input cannot be read';
    }
    return null;
  }

  private inputFile(z: ServiceZone): string {
    if (z.input.kind === 'file') return z.input.file;
    return join(this.config.service.data, 'upstream', `${z.name}zone`);
  }

  private stampOf(z: ServiceZone): string {
    try {
      const s = statSync(this.inputFile(z));
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  private watchInputs(): void {
    for (const state of this.zones.values()) {
      if (state.config.input.kind !== 'file' || state.job.busy) continue;
      const stamp = this.stampOf(state.config);
      if (stamp !== state.stamp) void state.job.trigger('the input file changed');
    }
  }

  /** One run of the zone pipeline: load, check, keep the revision, sign and verify, commit, publish. */
  private async pipeline(zoneName: string, reasons: readonly string[]): Promise<RunOutcome> {
    const state = this.zones.get(zoneName);
    if (state === undefined || this.stopping) return { ok: false, retry: false, error: new Error(`zone ${zoneName} is not served`) };
    const z = state.config;
    const log = this.log.child({ zone: zoneName });
    const acting = this.acting(reasons.join('; '));
    const file = this.inputFile(z);
    if (z.input.kind === 'primary') {
      const fetched = await this.fetchUpstream(state, log);
      if (!fetched.ok) return fetched.outcome;
      if (!fetched.changed && state.served !== undefined && reasons.every((r) => r.startsWith('NOTIFY from') || r === 'refresh from the primary')) {
        return this.nextRun(state, this.keeper.plan(this.keeper.zone(zoneName), this.now()).next);
      }
    }
    state.stamp = this.stampOf(z);
    // load and check: a bad input waits for a person; the served version stays (OPS-7)
    let input: Zone;
    try {
      input = loadZoneFile(file, Name.parse(zoneName));
      const findings = checkZone(input);
      if (hasErrors(findings)) throw new ZoneCheckError(zoneName, findings);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      state.lastError = error.message;
      log.error({ file, reason: error.message, serving: state.serial }, 'input refused; the last good signed version stays served');
      return { ok: false, retry: !(e instanceof SignerError) || e.code === 'IO', error };
    }
    const keysBefore = this.keyDigest(zoneName);
    try {
      this.ensureManaged(z, file, acting);
      this.keeper.noteInput(this.keeper.zone(zoneName), input);
      const revision = keepRevision(this.keeper.store, input, z.input.kind === 'file' ? `file ${file}` : `primary ${z.input.primary.address}`, { actor: acting.who.user, at: acting.at, comment: acting.comment });
      // the input just read and checked, and the signed zone kept as it is written: neither file is read again
      let written: Zone | undefined;
      const signed = await signManagedZone(this.keeper, zoneName, acting, this.signedPath(zoneName), { input: { file, zone: input }, written: (z) => { written = z; } });
      const zone = written ?? loadZoneFile(this.signedPath(zoneName), Name.parse(zoneName));
      this.publish(state, zone, acting.at, true);
      if (z.output !== undefined) copyAtomically(this.signedPath(zoneName), z.output);
      state.lastError = null;
      log.info({ serial: signed.serial, revision: revision.rev, signatures: signed.signatures, records: zone.recordCount, expires: state.expires === null ? null : isoSeconds(state.expires), reasons }, 'zone signed and published');
      const plan = this.keeper.enforce(zoneName, this.acting('after signing'));
      for (const g of plan.gates) if (g.from <= this.now()) log.info({ keyTag: g.keyTag, gate: g.kind }, `waiting for people: ${g.what}`);
      if (keysBefore !== this.keyDigest(zoneName)) this.parentOf(zoneName)?.job.trigger(`the keys of the child zone ${zoneName} changed (DP-4.6a)`).catch(() => undefined);
      void this.checkParent(zoneName);
      return this.nextRun(state, plan.next);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      state.lastError = error.message;
      if (e instanceof HsmError || (e instanceof SignerError && e.code === 'HSM')) {
        log.error({ alarm: true, reason: error.message, serving: state.serial }, 'ALARM: the HSM failed; the last good signed version stays served');
        await this.keeper.resetHsm();
      } else {
        log.error({ reason: error.message, serving: state.serial }, 'signing failed; the last good signed version stays served');
      }
      this.checkValidity();
      return { ok: false, retry: true, error };
    }
  }

  /**
   * Brings the zone in from its upstream primary (AXFR/IXFR, TSIG, DP-3.5a) when its serial is
   * newer; a new version is checked and kept as the input file. A transfer that fails keeps
   * what is held, and is retried.
   */
  private async fetchUpstream(state: ZoneState, log: Logger): Promise<{ ok: true; changed: boolean } | { ok: false; outcome: RunOutcome }> {
    const z = state.config;
    if (z.input.kind !== 'primary') return { ok: true, changed: false };
    const input = z.input;
    const key = this.config.service.tsigKeys.find((k) => k.name.equals(Name.parse(`${input.key}.`)))!;
    try {
      const result = await fetchZone(input.primary, Name.parse(z.name), {
        tsig: key, ...(state.upstream === undefined ? {} : { current: state.upstream }), source: this.config.service.source,
        log: ({ msg, ...event }) => log.info(event, msg),
      });
      if (result.status === 'unchanged') return { ok: true, changed: false };
      const findings = checkZone(result.zone);
      if (hasErrors(findings)) throw new ZoneCheckError(z.name, findings);
      writeZoneFileAtomically(this.inputFile(z), canonicalText(result.zone).split('\n').filter((l) => l !== ''));
      state.upstream = result.zone;
      log.info({ serial: result.serial, method: result.method, primary: input.primary.address }, 'new version from the primary');
      return { ok: true, changed: true };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      state.lastError = error.message;
      log.error({ primary: input.primary.address, reason: error.message, serving: state.serial }, 'transfer from the primary failed; the last good signed version stays served');
      return { ok: false, outcome: { ok: false, retry: !(e instanceof ZoneCheckError), error } };
    }
  }

  /** The next run: the planner's next key event, or the primary's refresh if that comes first. */
  private nextRun(state: ZoneState, keyEvent: UnixSeconds | null): RunOutcome {
    const refresh = this.nextRefresh(state);
    if (refresh !== null && (keyEvent === null || refresh < keyEvent)) return { ok: true, next: refresh, nextReason: 'refresh from the primary' };
    return { ok: true, next: keyEvent };
  }

  /** When to ask the primary again: its SOA REFRESH after now (RFC 1035 section 3.3.13). */
  private nextRefresh(state: ZoneState): UnixSeconds | null {
    if (state.config.input.kind !== 'primary' || state.upstream?.soa === undefined) return null;
    return this.now() + Math.max(60, decodeSoa(state.upstream.soa.records[0]!.rdata).refresh);
  }

  /** The zone's key records as one string: a change means its DS in a parent here may change. */
  private keyDigest(zone: string): string {
    return JSON.stringify(this.keeper.store.getZone(zone) === undefined ? [] : this.keeper.store.keys(zone).map((k) => [k.id, k.publish, k.remove, k.dsSeen, k.dsWithdrawn]));
  }

  /** The nearest enclosing zone served here, if any: it carries this zone's DS (DP-4.6a). */
  private parentOf(zone: string): ZoneState | undefined {
    const labels = zone.split('.');
    for (let i = 1; i < labels.length - 1; i++) {
      const parent = this.zones.get(labels.slice(i).join('.'));
      if (parent !== undefined) return parent;
    }
    return undefined;
  }

  /**
   * The automatic parent DS check (DP-4.7): when the zone waits for its DS to be seen at (or
   * gone from) the parent and parent servers are set, they are asked; what they show is filed
   * as a request that a person approves (DP-4.7d). A zone whose parent is served here needs none.
   */
  private async checkParent(zoneName: string): Promise<void> {
    try {
      const row = this.keeper.store.getZone(zoneName);
      if (row === undefined || row.parentServers.length === 0 || this.parentOf(zoneName) !== undefined) return;
      const waiting = this.keeper.plan(row, this.now()).gates.filter((g) => g.from <= this.now());
      if (waiting.length === 0) return;
      const check = await checkParentDs(this.keeper, zoneName, this.acting('automatic parent DS check'));
      for (const f of check.filed) this.log.info({ zone: zoneName, request: f.id, step: f.kind, keyTag: f.keyTag }, 'the parent shows a DS change: filed for approval (hms approve)');
      if (!check.agree) this.log.warn({ zone: zoneName, servers: check.servers }, 'the parent\'s servers do not agree on the DS; nothing filed');
    } catch (e) {
      this.log.warn({ zone: zoneName, reason: e instanceof Error ? e.message : String(e) }, 'the parent DS check failed; it is tried again later');
    }
  }

  /** Adds the zone to the state the first time, and follows the configuration's input and policy after. */
  private ensureManaged(z: ServiceZone, file: string, acting: Acting): void {
    const row = this.keeper.store.getZone(z.name);
    const audit = { actor: acting.who.user, at: acting.at, comment: `from the configuration ${this.config.file}` };
    if (row === undefined) {
      this.keeper.policy(z.policy);
      this.keeper.store.addZone({ name: z.name, policy: z.policy, input: file, added: acting.at, saltHex: null, saltCreated: null, lastSerial: null, lastSigned: null, insecureSince: null, parentServers: [...z.parentServers] }, audit);
    } else if (row.input !== file || row.policy !== z.policy || (z.parentServers.length > 0 && JSON.stringify(row.parentServers) !== JSON.stringify(z.parentServers))) {
      this.keeper.policy(z.policy);
      this.keeper.store.updateZone(z.name, { input: file, policy: z.policy, ...(z.parentServers.length > 0 ? { parentServers: [...z.parentServers] } : {}) }, audit);
    }
  }

  private publish(state: ZoneState, zone: Zone, signedAt: UnixSeconds | null, announce = false): void {
    const old = state.served;
    if (old !== undefined && announce) {
      try {
        state.journal.addVersion(old, zone);
      } catch (e) {
        // IXFR then answers with the whole zone: slower, never wrong
        this.log.error({ zone: state.config.name, reason: e instanceof Error ? e.message : String(e) }, 'the journal could not be written');
      }
    }
    state.served = zone;
    state.serial = decodeSoa(zone.soa!.records[0]!.rdata).serial;
    state.signedAt = signedAt;
    state.expires = earliestExpiration(zone);
    if (announce) state.announced = this.announce(state, old, zone, signedAt ?? this.now());
  }

  /**
   * NOTIFY of a new version, then its secondaries seen serving it; a key that entered the
   * DNSKEY RRset with it counts as published from then (RFC 7583's intervals start when
   * resolvers can see the record), so the roll's next steps are re-timed (`confirmPublication`).
   */
  private async announce(state: ZoneState, before: Zone | undefined, zone: Zone, signedAt: UnixSeconds): Promise<Publication> {
    const name = state.config.name;
    const reports = await this.notify(state, zone);
    const serial = decodeSoa(zone.soa!.records[0]!.rdata).serial;
    const allCurrent = reports.every((r) => r.isCurrent);
    const seenAt = this.now();
    try {
      const row = this.keeper.store.getZone(name);
      if (row !== undefined && !this.stopping) {
        const keys = this.keeper.store.keys(name);
        const entering = keysEntering(keys, before === undefined ? undefined : dnskeysOf(before), dnskeysOf(zone));
        const actions = confirmPublication(keys, entering, signedAt, seenAt);
        if (actions.length > 0) {
          if (!allCurrent) this.log.warn({ alarm: true, zone: name, serial, behind: reports.filter((r) => !r.isCurrent).map((r) => r.secondary) }, 'ALARM: not every secondary serves the new DNSKEY set; the roll counts from now, check them');
          this.keeper.apply(row, actions, this.acting(`serial ${serial} served by ${reports.length === 0 ? 'this primary (no secondaries)' : 'the secondaries'}`));
          const p = this.keeper.plan(this.keeper.zone(name), this.now());
          if (p.next !== null) state.job.at(p.next * 1000, 'a key event is due');
          this.log.info({ zone: name, serial, keyTags: entering.map((k) => k.keyTag), at: isoSeconds(seenAt) }, 'keys, publication confirmed: the next steps count from now');
        }
      }
    } catch (e) {
      this.log.error({ zone: name, serial, reason: e instanceof Error ? e.message : String(e) }, 'keys, publication could not be recorded');
    }
    return {
      zone: name, serial, problem: allCurrent ? null : 'not every secondary serves it yet',
      secondaries: reports.map((r) => ({ secondary: r.secondary, serial: r.serial ?? null, isCurrent: r.isCurrent })),
      servedAt: allCurrent ? seenAt : null,
    };
  }

  /** NOTIFY (TSIG-signed) to the zone's secondaries, retried until acknowledged; then their SOA serials checked (DP-3.2). */
  private async notify(state: ZoneState, zone: Zone): Promise<SecondaryReport[]> {
    const keys = this.config.service.tsigKeys;
    const targets = this.config.service.secondaries.filter((s) => state.config.secondaries.includes(s.name))
      .map((s) => ({ ...s.notify, key: keys.find((k) => k.name.equals(Name.parse(`${s.key}.`)))! }));
    if (targets.length === 0) return [];
    const done = notifySecondaries(zone.origin, soaRecord(zone), targets, {
      signal: this.stopped.signal, source: this.config.service.source,
      log: ({ msg, ...event }) => this.log.info(event, msg),
      onReport: (r) => {
        const level = r.isCurrent ? 'info' : 'warn';
        this.log[level]({ zone: state.config.name, secondary: r.secondary, acknowledged: r.isAcknowledged, serial: r.serial, lagMs: r.lagMs, errors: r.errors },
          r.isCurrent ? 'secondary serves the new version' : 'secondary does not serve the new version');
      },
    });
    this.notifying.add(done);
    try {
      return await done;
    } finally {
      this.notifying.delete(done);
    }
  }

  /** OPS-7: an alarm while any served signature has less than `alarm-validity` left. */
  private checkValidity(): void {
    const now = this.now();
    for (const state of this.zones.values()) {
      if (state.expires === null) continue;
      const left = state.expires - now;
      if (left < this.config.service.alarmValidity) {
        this.log.error({ alarm: true, zone: state.config.name, serial: state.serial, expires: isoSeconds(state.expires), hoursLeft: Math.floor(left / 3600) },
          left <= 0 ? 'ALARM: the served signatures have expired' : 'ALARM: the served signatures expire soon');
      }
    }
  }

  /** A request from the control socket: the caller is who the kernel says connected (DP-2.7a). */
  async handle(request: ServiceRequest, peer: PeerCredentials): Promise<Answer> {
    const who = await peerOperator(peer.uid, request.sudoUser);
    const log = this.log.child({ op: request.op, user: who.user, uid: peer.uid, pid: peer.pid });
    try {
      const answer = await this.authority.submit(request, who);
      log.info({ zones: Object.keys(answer.waiting) }, 'control, request applied');
      return answer;
    } catch (e) {
      log.warn({ reason: e instanceof Error ? e.message : String(e) }, 'control, request refused');
      throw e;
    }
  }

  /** `hms zone resign`: a run now, and its outcome. */
  async resign(zone: string, reason: string): Promise<ZoneStatus> {
    const state = this.zones.get(zone);
    if (state === undefined) throw new SignerError('USAGE', `zone ${zone} is not served by this hms (configuration ${this.config.file})`);
    const outcome = await state.job.trigger(reason);
    if (!outcome.ok) throw outcome.error;
    return this.statusOf(state);
  }

  /**
   * A request changed what the zone serves: a version is signed and published now, and the
   * answer waits until every secondary serves it (or the NOTIFY's serial checks give up).
   */
  private async publishNow(zone: string, reason: string): Promise<Publication> {
    const state = this.zones.get(zone);
    const none = { zone, serial: null, secondaries: [], servedAt: null };
    if (state === undefined) return { ...none, problem: `not served by this service (not in ${this.config.file}): hms zone sign writes it` };
    const outcome = await state.job.trigger(reason);
    if (!outcome.ok) return { ...none, problem: `${outcome.error.message}; the last good version stays served, and the run is retried` };
    const announced = state.announced;
    if (announced === undefined) return { ...none, problem: 'nothing was published' };
    // a secondary that is down must not hold the operator's command for the NOTIFY's whole retry time
    const waitMs = this.options.requestWaitMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), waitMs)));
    const seen = await Promise.race([announced, late]);
    clearTimeout(timer);
    return seen ?? {
      ...none, serial: state.serial,
      problem: `not every secondary was seen serving it within ${Math.round(waitMs / 1000)} s; the roll's next steps count from when they are (the log says when; hms key timeline)`,
    };
  }

  /** SIGHUP or `hms reload`: reads the configuration again; a bad one is refused and the old one kept. */
  async reload(): Promise<string[]> {
    let next: HmsConfig;
    try {
      next = loadConfig(this.options.configFile);
    } catch (e) {
      this.log.error({ reason: e instanceof Error ? e.message : String(e) }, 'reload refused: the configuration has problems; the running one stays');
      throw e;
    }
    const changes: string[] = [];
    const old = this.config;
    const transferBefore = this.transferSettings();
    if (next.state !== old.state || JSON.stringify(next.hsm) !== JSON.stringify(old.hsm)) {
      this.log.warn({ state: next.state, hsm: next.hsm.token }, 'the state file and the HSM settings take effect at the next start only');
    }
    this.keeper.reload(next);
    try {
      this.checkPolicies(next);
    } catch (e) {
      this.keeper.reload(old);
      this.log.error({ reason: e instanceof Error ? e.message : String(e) }, 'reload refused; the running configuration stays');
      throw e;
    }
    this.config = next;
    for (const z of next.service.zones) {
      const state = this.zones.get(z.name);
      if (state === undefined) {
        this.addZone(z);
        changes.push(`${z.name}: added`);
        void this.zones.get(z.name)!.job.trigger('added by a reload');
      } else if (JSON.stringify(state.config) !== JSON.stringify(z)) {
        state.config = z;
        changes.push(`${z.name}: changed`);
        void state.job.trigger('changed by a reload');
      }
    }
    for (const [name, state] of this.zones) {
      if (!next.service.zones.some((z) => z.name === name)) {
        await state.job.stop();
        this.zones.delete(name);
        changes.push(`${name}: no longer served`);
      }
    }
    if (transferBefore !== this.transferSettings()) {
      await this.server?.close();
      this.server = undefined;
      await this.listen();
      changes.push('transfer server: listen addresses, secondaries, primaries or keys changed');
    }
    if (old.service.resign !== next.service.resign) {
      await this.cronTask?.destroy();
      this.scheduleResign();
      changes.push(`re-sign schedule: ${next.service.resign}`);
    }
    this.log.info({ changes }, 'configuration reloaded');
    return changes;
  }

  status(): ZoneStatus[] {
    return [...this.zones.values()].map((s) => this.statusOf(s));
  }

  /** The signed version served for a zone (what AXFR sends), if any. */
  served(zone: string): Zone | undefined {
    return this.zones.get(Name.parse(zone).toLowerCase().toString())?.served;
  }

  private statusOf(s: ZoneState): ZoneStatus {
    return { zone: s.config.name, serial: s.serial, signedAt: s.signedAt, expires: s.expires, failures: s.job.failureCount, lastError: s.lastError, busy: s.job.busy };
  }

  /** The control socket operators' requests come on (the configuration's `control`). */
  get controlPath(): string {
    return this.config.service.control;
  }

  /** The transfer server's addresses (ports filled in). */
  get addresses(): readonly { readonly address: string; readonly port: number }[] {
    return this.server?.addresses ?? [];
  }

  /** SIGTERM: no new work; the runs under way finish; servers and the HSM are closed. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.watcher !== undefined) clearInterval(this.watcher);
    if (this.alarmTimer !== undefined) clearInterval(this.alarmTimer);
    await this.cronTask?.destroy();
    await Promise.all([...this.zones.values()].map((s) => s.job.stop()));
    this.stopped.abort();
    await Promise.allSettled([...this.notifying]);
    await this.server?.close();
    await this.keeper.close();
    this.lock.release();
    this.log.info('service stopped');
  }
}

/** The earliest RRSIG expiration in a signed zone (RFC 4034 section 3.1.5: octets 8 to 11 of the RDATA). */
export function earliestExpiration(zone: Zone): UnixSeconds | null {
  let earliest: number | null = null;
  for (const set of zone.rrsets()) {
    if (set.type !== RRType.RRSIG) continue;
    for (const r of set.records) {
      const d = r.rdata;
      const expiration = ((d[8]! << 24) >>> 0) + (d[9]! << 16) + (d[10]! << 8) + d[11]!;
      if (earliest === null || expiration < earliest) earliest = expiration;
    }
  }
  return earliest;
}

/** The DNSKEY RDATAs of a version. */
function dnskeysOf(zone: Zone): Uint8Array[] {
  return zone.rrset(zone.origin, RRType.DNSKEY)?.records.map((r) => r.rdata) ?? [];
}

function copyAtomically(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = `${to}.tmp-${process.pid}`;
  copyFileSync(from, tmp);
  renameSync(tmp, to);
}
