import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { UnixSeconds } from '../common/clock.js';
import { SignerError, TransferError } from '../common/errors.js';
import type { Operator } from '../config/access.js';
import { loadConfig, type HmsConfig } from '../config/config.js';
import { peerOperator } from '../config/identity.js';
import { describeSource, type ServiceZone } from '../config/service.js';
import { Name } from '../dns/name.js';
import { auditSink } from '../audit/logger.js';
import type { AlarmBoard } from '../common/alarms.js';
import { HmsMetrics } from '../monitor/metrics.js';
import { startMetricsServer, type MetricsServer } from '../monitor/metrics-server.js';
import { alarmBoard, reconfigureAlarms } from './alarm-outputs.js';
import { RunSlots } from '../common/run-slots.js';
import { ZoneJob } from '../scheduler/zone-job.js';
import { endpoint, startTransferServer, type AclEntry, type TransferServer } from '../transfer/server.js';
import type { ServedVersion } from '../zone/version.js';
import { Authority, type Answer, type Publication } from './authority.js';
import { Keeper, type Acting } from './keeper.js';
import type { ServiceActions, ServiceRequest } from './operations.js';
import type { PeerCredentials } from './os.js';
import { checkParentDs } from './parent-check.js';
import { ZonePipeline, zoneAlarm, type PipelineContext, type ZoneState } from './pipeline.js';
import { Publisher } from './publisher.js';
import { lockHolder, tryLockState, type StateLock } from './state-lock.js';
import { removeLeftovers } from '../storage/temporary-files.js';
import { Triggers } from './triggers.js';
import type { Monitor } from '../monitor/monitor.js';
import { serviceMonitor } from './monitor-service.js';

export interface ServiceOptions {
  readonly configFile: string;
  readonly log: Logger;
  /** Who the service acts as in the audit trail. */
  readonly operator: Operator;
  /** How a long signing reports progress (issue 19): log lines this often, a bar on a terminal. */
  readonly signingProgress?: PipelineContext['signingProgress'];
  /** The clock (tests may move it); default the system's. */
  readonly now?: () => UnixSeconds;
  /** How often the input files are looked at for changes (default 2 s). */
  readonly watchMs?: number;
  /** First retry delay after a failure (default 30 s). */
  readonly backoffMs?: number;
  /** How long a request waits for the secondaries to serve its change before it answers (default 30 s). */
  readonly requestWaitMs?: number;
  /** How long the start waits for the state's lock that another hms holds (default 30 s). */
  readonly lockWaitMs?: number;
}

/**
 * Runs at once (issue 20 item 4): enough to keep the key-making thread and the signing threads
 * busy; the others wait their turn, in order. A first start with many new zones thus signs and
 * serves each zone in turn rather than reading, recording and asking keys for all before the
 * first is signed; and `hms zone resign --all` of 100 small zones, which ran every run at once,
 * no longer holds 100 zones' buffers at the same time (RSS 128 to 386 MiB, and the allocator
 * kept most of it).
 */
const RUNS_AT_ONCE = 8;

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

/**
 * `hms run`: the hidden master, and the one writer of the state while it runs. It wires the
 * parts: each configured zone's job runs the pipeline (pipeline.ts) daily, at the planner's
 * next key event, when the input changes (triggers.ts) and when a request asks; the publisher
 * (publisher.ts) serves the versions to the listed secondaries only, TSIG-signed (DP-3.2,
 * DP-3.5), NOTIFYs them and confirms what they serve; operators' requests come on the control
 * socket and are applied by the authority (authority.ts, operations.ts) as the kernel says the
 * caller is. A failure at any stage keeps the last good version served and is retried (OPS-7).
 */
export class Service {
  private config: HmsConfig;
  private readonly zones = new Map<string, ZoneState>();
  /** The zones' runs: RUNS_AT_ONCE at once. */
  private readonly runs = new RunSlots(RUNS_AT_ONCE);
  private server: TransferServer | undefined;
  private readonly now: () => UnixSeconds;
  private stopping = false;
  /** The zones' start, looked at one by one after the service has started (resumeZones). */
  private resuming: Promise<void> = Promise.resolve();
  /** The reload under way, if any: the next waits for it. */
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly publisher: Publisher;
  private readonly pipeline: ZonePipeline;
  private readonly triggers: Triggers;
  /** Operators' requests from the control socket, applied one at a time. */
  readonly authority: Authority;
  /** Issue 19: the one AlarmPort (raised and cleared, to the configured sinks), the metrics and their endpoint. */
  readonly alarms: AlarmBoard;
  readonly metrics: HmsMetrics;
  private metricsServer: MetricsServer | undefined;
  /** The monitor of the secondaries (issue 19 item 1); `monitor.listen` hears each run (metrics). */
  readonly monitor: Monitor;

  private constructor(
    private readonly options: ServiceOptions,
    config: HmsConfig,
    private readonly keeper: Keeper,
    private readonly lock: StateLock,
  ) {
    this.config = config;
    this.now = options.now ?? (() => Math.floor(Date.now() / 1000));
    this.metrics = new HmsMetrics({
      now: this.now,
      zones: () => [...this.zones.keys()].map((zone) => ({ zone, ...this.publisher.facts(zone) })),
      alarms: () => this.alarms.active(),
      hsmSessions: () => keeper.hsmSessions(),
    });
    this.alarms = alarmBoard(config.service.alarms, options.log, this.now, [this.metrics.alarmSink()]);
    const common = {
      keeper,
      log: options.log,
      now: this.now,
      config: () => this.config,
      acting: (comment: string) => this.acting(comment),
      alarms: this.alarms,
      metrics: this.metrics,
    };
    this.publisher = new Publisher({ ...common, replanned: (zone, at) => this.zones.get(zone)?.job.at(at * 1000, 'a key event is due') });
    this.pipeline = new ZonePipeline({
      ...common,
      publisher: this.publisher,
      ...(options.signingProgress === undefined ? {} : { signingProgress: options.signingProgress }),
      keysChanged: (zone) => void this.parentOf(zone)?.job.trigger(`the keys of the child zone ${zone} changed (DP-4.6a)`),
      signed: (zone) => void this.checkParent(zone),
    });
    this.triggers = new Triggers({
      zones: () => this.zones.keys(),
      // a zone removed by a reload while its re-sign waited for its place is gone: nothing to do
      daily: (zone) => void this.zones.get(zone)?.job.trigger('daily re-sign (DP-4.4b)'),
      poll: () => this.watchInputs(),
      hourly: () => {
        this.publisher.checkValidity();
        for (const zone of this.zones.keys()) void this.checkParent(zone);
      },
    });
    this.monitor = serviceMonitor({ config: () => this.config, keeper, publisher: this.publisher, alarms: this.alarms, log: options.log, now: this.now });
    this.monitor.listen((run) => this.metrics.recordMonitorRun(run.findings));
    const service: ServiceActions = {
      resign: (zone, reason) => this.resign(zone, reason),
      reload: () => this.reload(),
      status: () => this.status(),
      tokenChanged: (zone) => {
        const state = this.zones.get(zone);
        if (state !== undefined) this.pipeline.reportOrphans(state);
      },
    };
    this.authority = new Authority(
      {
        keeper,
        get config() {
          return keeper.config;
        },
        service,
      },
      { now: this.now, publish: (zone, reason) => this.publishNow(zone, reason) },
    );
  }

  /** Reads the configuration, opens the state and the HSM, serves the last signed versions, and starts the schedule. */
  static async start(options: ServiceOptions): Promise<Service> {
    const config = loadConfig(options.configFile);
    // the one writer of the state while it runs (ARCHITECTURE.md): the CLI then asks it
    // a CLI applying one request without the service holds it for seconds: wait that long, no longer
    let lock = tryLockState(config.state, 'hms run');
    for (let waited = 0; lock === undefined && waited < (options.lockWaitMs ?? 30_000); waited += 250) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      lock = tryLockState(config.state, 'hms run');
    }
    if (lock === undefined)
      throw new SignerError('USAGE', `${config.state}: another hms holds the state (${lockHolder(config.state)}); one service per state file`);
    let keeper: Keeper;
    // the service, once made, raises the alarm of a failed syslog copy of the audit trail
    const made: { service?: Service } = {};
    try {
      keeper = Keeper.open(config, {
        auditSink: auditSink(options.log),
        onSyslogError: (message) => {
          options.log.error({ alarm: true, reason: message }, 'audit, the syslog copy failed; the change is committed');
          made.service?.alarms.raise({
            key: 'audit.syslog',
            severity: 'warning',
            message: 'the syslog copy of the audit trail failed (DP-2.4e); the changes are committed, their copy is missing there',
            details: { reason: message },
          });
        },
        // a copy delivered again: the alarm clears (the records whose copy failed stay in the state's trail)
        onSyslogDelivered: () =>
          made.service?.alarms.clear(
            'audit.syslog',
            'the syslog copy of the audit trail is delivered again; the copies that failed are in the state (hms audit log)',
          ),
      });
    } catch (e) {
      lock.release();
      throw e;
    }
    const service = new Service(options, config, keeper, lock);
    made.service = service;
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

  private async begin(): Promise<void> {
    const folders = ['signed', 'journal', 'upstream'].map((dir) => join(this.config.service.data, dir));
    for (const dir of folders) mkdirSync(dir, { recursive: true, mode: 0o750 });
    // what killed runs left half-written (the state's lock is held: no other hms writes there)
    const files = this.config.service.zones.flatMap((z) => [z.output, z.input.kind === 'file' ? z.input.file : undefined]).filter((f) => f !== undefined);
    const left = removeLeftovers(folders, files, process.pid);
    if (left.files.length > 0)
      this.log.info({ files: left.files.length, bytes: left.bytes, removed: left.files.slice(0, 20) }, 'removed the temporary files of earlier runs');
    this.checkPolicies(this.config);
    for (const z of this.config.service.zones) this.addZone(z);
    for (const state of this.zones.values()) this.pipeline.resume(state);
    await this.listen(this.config);
    this.metricsServer = await this.startMetrics(this.config);
    this.triggers.start(this.config.service.resign, this.options.watchMs ?? 2000, this.config.service.resignSpread);
    this.monitor.start();
    this.log.info(
      {
        zones: [...this.zones.keys()],
        listen: this.server?.addresses ?? [],
        source: describeSource(this.config.service.source),
        resign: this.config.service.resign,
      },
      'service started',
    );
    // issue 20 item 3: keys made ahead in the HSM's key pool and, when a zone needs one, off the event loop
    void this.keeper
      .startKeyPool((e) => {
        if (e.kind === 'failed') this.log.warn({ kind: e.key, reason: e.reason }, 'key pool, a key could not be made; tried again in a minute');
        else if (e.kind === 'full') this.log.info({ held: e.held }, 'key pool, filled to its size');
        else if (e.kind === 'removed') this.log.warn({ id: e.id, objects: e.objects }, 'key pool, half a pair left by a stop removed from the token');
        else this.log.debug({ kind: e.key, id: e.id, ms: e.ms }, 'key pool, a key made');
      })
      .catch((e: unknown) =>
        this.log.warn(
          { reason: e instanceof Error ? e.message : String(e) },
          'key pool, not started: the HSM cannot be used; keys are made when a zone needs them',
        ),
      );
    // each zone's start goes on after the service has started (its version is served already):
    // the control socket opens meanwhile, however many zones there are to look at
    this.resuming = this.resumeZones().catch((e: unknown) =>
      this.log.error({ reason: e instanceof Error ? e.message : String(e) }, 'the zones could not all be looked at after the start'),
    );
  }

  /** Each zone at start: its orphans reported, its input looked at, then its run or its next key event timed. */
  private async resumeZones(): Promise<void> {
    for (const state of [...this.zones.values()]) {
      if (this.stopping) return;
      // a reload may have taken the zone away meanwhile
      if (this.zones.get(state.config.name) !== state) continue;
      this.pipeline.reportOrphans(state);
      const why = await this.pipeline.due(state);
      if (this.stopping || this.zones.get(state.config.name) !== state) continue;
      if (why !== null) void state.job.trigger(why);
      else this.pipeline.resumePlan(state);
    }
  }

  /**
   * The transfer server on the configuration's addresses. A running one takes the new settings
   * itself (a reload): the addresses it keeps keep their sockets (binding them again while
   * they are open would fail), new ones are bound before the old ones close, and when one
   * cannot be bound nothing changes.
   */
  private async listen(config: HmsConfig): Promise<void> {
    const service = config.service;
    const settings = { listen: service.listen, keys: service.tsigKeys, acl: this.acl(config), limits: service.transferLimits };
    if (this.server !== undefined) return this.server.reconfigure(settings);
    if (service.listen.length === 0) return;
    this.server = await startTransferServer({
      ...settings,
      zones: (name) => this.publisher.served(name.toLowerCase().toString()),
      journal: (name) => this.publisher.journal(name.toLowerCase().toString()),
      onNotify: (name, peer) => {
        const state = this.zones.get(name.toLowerCase().toString());
        if (state?.config.input.kind === 'primary' && state.config.input.primary.address === peer) void state.job.trigger(`NOTIFY from the primary ${peer}`);
      },
      log: ({ msg, ...event }) => this.log.info(event, msg),
      logRefusals: ({ msg, ...summary }) => this.log.warn(summary, msg),
      // per secondary by its name; every other address is one label, so a flood cannot grow the series
      observe: (event) =>
        this.metrics.recordTransferEvent(this.config.service.secondaries.find((s) => s.address === event.peer)?.name ?? 'unlisted', event.msg),
    });
  }

  /** What the transfer server is started with, as one string: a change reconfigures it. */
  private transferSettings(config: HmsConfig): string {
    const keys = config.service.tsigKeys.map((k) => [k.name.toString(), k.algorithm, createHash('sha256').update(k.secret).digest('hex')]);
    return JSON.stringify([config.service.listen, this.acl(config), keys, config.service.transferLimits]);
  }

  /**
   * Who may ask what (DP-3.2b): each secondary the zones it is listed for, with its key; each
   * upstream primary a NOTIFY for its zone, nothing more.
   */
  private acl(config: HmsConfig): AclEntry[] {
    const { secondaries, zones } = config.service;
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
    const job = new ZoneJob(config.name, (reasons) => this.run(config.name, reasons), {
      nowMs: () => this.now() * 1000,
      ...(this.options.backoffMs === undefined ? {} : { backoffMs: this.options.backoffMs }),
      onRetry: (attempt, ms, error) =>
        this.log.warn({ zone: config.name, attempt, retryInMs: ms, reason: error.message }, 'pipeline failed; the last good version stays served; retrying'),
    });
    this.publisher.open(config.name);
    this.zones.set(config.name, { config, job, lastError: null, stamp: '', upstream: undefined });
  }

  private run(zone: string, reasons: readonly string[]): ReturnType<ZonePipeline['run']> {
    const state = this.zones.get(zone);
    if (state === undefined || this.stopping) return Promise.resolve({ ok: false, retry: false, error: new Error(`zone ${zone} is not served`) });
    // issue 20 item 4: a few at a time, in order (a zone with nothing served yet is served as soon as it is signed)
    return this.runs.run(async () =>
      this.zones.get(zone) !== state || this.stopping
        ? { ok: false, retry: false, error: new Error(`zone ${zone} is not served`) }
        : this.pipeline.run(state, reasons),
    );
  }

  private watchInputs(): void {
    for (const state of this.zones.values()) {
      if (state.config.input.kind !== 'file' || state.job.busy) continue;
      if (this.pipeline.stampOf(state.config) !== state.stamp) void state.job.trigger('the input file changed');
    }
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
      for (const f of check.filed)
        this.log.info({ zone: zoneName, request: f.id, step: f.kind, keyTag: f.keyTag }, 'the parent shows a DS change: filed for approval (hms approve)');
      if (!check.agree) this.log.warn({ zone: zoneName, servers: check.servers }, "the parent's servers do not agree on the DS; nothing filed");
    } catch (e) {
      this.log.warn({ zone: zoneName, reason: e instanceof Error ? e.message : String(e) }, 'the parent DS check failed; it is tried again later');
    }
  }

  /** A request from the control socket: the caller is who the kernel says connected (DP-2.7a). */
  async handle(request: ServiceRequest, peer: PeerCredentials): Promise<Answer> {
    const who = await peerOperator(peer.uid, request.sudoUser);
    const log = this.log.child({ op: request.op, user: who.user, uid: peer.uid, pid: peer.pid });
    try {
      const answer = await this.authority.submit(request, who, peer.uid);
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
   * answer waits until every secondary serves it (or `requestWaitMs` passes).
   */
  private async publishNow(zone: string, reason: string): Promise<Publication> {
    const state = this.zones.get(zone);
    const none = { zone, serial: null, secondaries: [], servedAt: null };
    if (state === undefined) return { ...none, problem: `not served by this service (not in ${this.config.file}): hms zone sign writes it` };
    const outcome = await state.job.trigger(reason);
    if (!outcome.ok) return { ...none, problem: `${outcome.error.message}; the last good version stays served, and the run is retried` };
    return this.publisher.lastAnnouncement(zone, this.options.requestWaitMs ?? 30_000);
  }

  /**
   * SIGHUP or `hms reload`: reads the configuration again; a bad one, or one whose listen
   * addresses cannot be bound, is refused and the old one kept whole. One reload at a time.
   */
  reload(): Promise<string[]> {
    const done = this.reloading.then(() => this.reloadNow());
    this.reloading = done.catch(() => undefined);
    return done;
  }

  /** The metrics endpoint of `config` (service.metrics-listen), if it names one. */
  private async startMetrics(config: HmsConfig): Promise<MetricsServer | undefined> {
    const at = config.service.metricsListen;
    if (at === undefined) return undefined;
    const server = await startMetricsServer(at, this.metrics).catch((e: unknown) => {
      throw new SignerError('CONFIG', `${config.file}: service.metrics-listen ${at.address}:${at.port}: ${e instanceof Error ? e.message : String(e)}`);
    });
    this.log.info({ address: server.address, port: server.port }, 'metrics, serving /metrics');
    return server;
  }

  private async reloadNow(): Promise<string[]> {
    let next: HmsConfig;
    try {
      next = loadConfig(this.options.configFile);
    } catch (e) {
      this.log.error({ reason: e instanceof Error ? e.message : String(e) }, 'reload refused: the configuration has problems; the running one stays');
      throw e;
    }
    const changes: string[] = [];
    const old = this.config;
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
    // the new sockets first: a listen address that cannot be bound refuses the reload whole
    const metricsChanged = JSON.stringify(next.service.metricsListen) !== JSON.stringify(old.service.metricsListen);
    let metricsBound: MetricsServer | undefined;
    if (metricsChanged) {
      try {
        metricsBound = await this.startMetrics(next);
      } catch (e) {
        this.keeper.reload(old);
        this.log.error(
          { reason: e instanceof Error ? e.message : String(e) },
          'reload refused: the metrics endpoint cannot listen there; the running configuration stays',
        );
        throw e;
      }
    }
    const transferChanged = this.transferSettings(old) !== this.transferSettings(next);
    if (transferChanged) {
      try {
        await this.listen(next);
      } catch (e) {
        this.keeper.reload(old);
        await metricsBound?.close();
        const reason = e instanceof Error ? e.message : String(e);
        const listening = this.addresses.map(endpoint);
        this.log.error({ reason, listening }, 'reload refused: the transfer server cannot listen on the new addresses; the running configuration stays');
        throw new TransferError(`reload refused: ${reason}; the running configuration stays, served on ${listening.join(', ') || 'no address'}`, { cause: e });
      }
    }
    if (metricsChanged) {
      await this.metricsServer?.close();
      this.metricsServer = metricsBound;
      changes.push(next.service.metricsListen === undefined ? 'metrics: no longer served' : `metrics: served on ${endpoint(next.service.metricsListen)}`);
    }
    if (reconfigureAlarms(this.alarms, old.service.alarms, next.service.alarms, this.log, [this.metrics.alarmSink()]))
      changes.push(`alarms: sent to ${next.service.alarms.map((a) => a.kind).join(', ') || 'the log'}`);
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
        this.pipeline.drop(state);
        await state.job.stop();
        this.zones.delete(name);
        this.publisher.close(name);
        this.metrics.forget(name);
        for (const key of Object.values(zoneAlarm)) this.alarms.clear(key(name), `zone ${name} is no longer served`);
        changes.push(`${name}: no longer served`);
      }
    }
    if (transferChanged) {
      changes.push('transfer server: listen addresses, secondaries, primaries or keys changed');
    }
    if (JSON.stringify(old.service.source) !== JSON.stringify(next.service.source))
      changes.push(`source addresses: ${JSON.stringify(describeSource(next.service.source))}`);
    if (old.service.resign !== next.service.resign || old.service.resignSpread !== next.service.resignSpread) {
      await this.triggers.reschedule(next.service.resign, next.service.resignSpread);
      changes.push(`re-sign schedule: ${next.service.resign}, spread over ${next.service.resignSpread} s`);
    }
    this.log.info({ changes }, 'configuration reloaded');
    return changes;
  }

  status(): ZoneStatus[] {
    return [...this.zones.values()].map((s) => this.statusOf(s));
  }

  /** The signed version served for a zone (what AXFR sends), if any. */
  served(zone: string): ServedVersion | undefined {
    return this.publisher.served(Name.parse(zone).toLowerCase().toString());
  }

  private statusOf(s: ZoneState): ZoneStatus {
    return { zone: s.config.name, ...this.publisher.facts(s.config.name), failures: s.job.failureCount, lastError: s.lastError, busy: s.job.busy };
  }

  /** The control socket operators' requests come on (the configuration's `control`). */
  get controlPath(): string {
    return this.config.service.control;
  }

  /** The transfer server's addresses (ports filled in). */
  get addresses(): readonly { readonly address: string; readonly port: number }[] {
    return this.server?.addresses ?? [];
  }

  /**
   * SIGTERM: no new work; the runs under way end unfinished (at their next signature: a big
   * zone's re-sign would otherwise hold the stop for minutes, past systemd's stop timeout),
   * those past their signing finish; servers and the HSM are closed.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.resuming;
    await this.triggers.stop();
    await this.monitor.stop();
    for (const state of this.zones.values())
      this.pipeline.abandon(
        state,
        'the service is stopping: the run was abandoned; the last signed version stays, and the next start signs again what was due',
      );
    await Promise.all([...this.zones.values()].map((s) => s.job.stop()));
    await this.publisher.stop();
    await this.server?.close();
    this.publisher.releaseAll();
    await this.metricsServer?.close();
    await this.keeper.close();
    this.lock.release();
    this.log.info('service stopped');
  }
}
