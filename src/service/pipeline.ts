import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SigningProgress, type StatusLine } from '../audit/progress.js';
import type { AlarmPort } from '../common/alarms.js';
import { isoSeconds, type UnixSeconds } from '../common/clock.js';
import { SignerError } from '../common/errors.js';
import type { HmsConfig } from '../config/config.js';
import type { ServiceZone } from '../config/service.js';
import { Name } from '../dns/name.js';
import type { ZoneInputLimits, ZoneRecord } from '../dns/zonefile/parser.js';
import { decodeSoa } from '../dns/rdata/extract.js';
import type { Presigner } from '../dnssec/presign.js';
import { serialGreater } from '../dns/serial.js';
import { timings } from '../enforcer/timing.js';
import { HsmError } from '../hsm/errors.js';
import type { HmsMetrics } from '../monitor/metrics.js';
import type { Urgency } from '../hsm/fair-queue.js';
import type { RevisionRow } from '../enforcer/ports.js';
import type { RunOutcome, ZoneJob } from '../scheduler/zone-job.js';
import { fileStamp, ServedFile, servedFileOf, writeServedFile } from '../storage/served-file.js';
import { copyFileAtomically, writeZoneFileAtomically } from '../storage/zone-files.js';
import { fetchZone } from '../transfer/fetch-zone.js';
import { checkZone } from '../zone/checks.js';
import { hasErrors, ZoneCheckError } from '../zone/findings.js';
import type { ServedVersion } from '../zone/version.js';
import type { Zone } from '../zone/zone.js';
import type { Acting, Keeper } from './keeper.js';
import { loadZoneFile, readZoneFile, SIGNED_FILE_LIMITS } from './load-zone.js';
import type { Publisher } from './publisher.js';
import { canonicalText, InputFingerprint, keepRevision, revisionDigest } from './revisions.js';
import { signingAhead, signManagedZone } from './sign-managed.js';
import { readSigningAhead } from './read-ahead.js';
import { signingUrgency } from './sign-urgency.js';

/** What the service keeps of one configured zone while it runs (what it serves is the publisher's). */
export interface ZoneState {
  config: ServiceZone;
  readonly job: ZoneJob;
  lastError: string | null;
  /** The input file as last seen: a change of any of these is a new input. */
  stamp: string;
  /** A zone from an upstream primary: the unsigned version held. */
  upstream: Zone | undefined;
  /** Why the zone is no longer served, once it is not (removed by a reload): a run not yet signing never starts. */
  dropped?: string;
}

/** What the pipeline works with: the state and HSM, the publisher, and the service around it. */
export interface PipelineContext {
  readonly keeper: Keeper;
  readonly publisher: Publisher;
  readonly log: Logger;
  readonly now: () => UnixSeconds;
  readonly config: () => HmsConfig;
  readonly acting: (comment: string) => Acting;
  /** The zone's key records changed: a parent zone served here carries its DS (DP-4.6a). */
  readonly keysChanged: (zone: string) => void;
  /** A version of the zone was signed and published (the parent DS check may look). */
  readonly signed: (zone: string) => void;
  /** How a long signing reports its progress: a log line every `everyMs` (default 5 s), and a bar on a terminal. */
  readonly signingProgress?: { readonly everyMs?: number; readonly bar?: StatusLine };
  /** Where alarms are raised and cleared (the service's AlarmBoard), and the metrics recorded. */
  readonly alarms: AlarmPort;
  readonly metrics: HmsMetrics;
}

/** The keys of the alarms the pipeline raises for a zone: each cleared when its condition ends. */
export const zoneAlarm = {
  plan: (zone: string) => `zone.plan/${zone}`,
  orphans: (zone: string) => `hsm.orphans/${zone}`,
  input: (zone: string) => `zone.input/${zone}`,
  primary: (zone: string) => `zone.primary/${zone}`,
  sign: (zone: string) => `zone.sign/${zone}`,
  hsm: (zone: string) => `hsm.failed/${zone}`,
};

const expiry = (t: UnixSeconds | null): string | null => (t === null ? null : isoSeconds(t));

/**
 * The zone pipeline, one run at a time per zone (its ZoneJob): the input read (a file, or an
 * upstream primary by AXFR/IXFR) and checked, kept as a revision, signed as the policy and keys
 * say (due key events first) and verified, committed, and handed to the publisher. A failure at
 * any stage keeps the last good version served; the job retries (OPS-7).
 */
export class ZonePipeline {
  /** Each zone's input as its last run read it (InputFingerprint) and the revision it was kept as. */
  private readonly revisionRead = new Map<string, { readonly fingerprint: string; readonly revision: RevisionRow }>();

  constructor(private readonly ctx: PipelineContext) {}

  /** Where the signed version of a zone is kept (and served from after a restart). */
  signedPath(zone: string): string {
    return join(this.ctx.config().service.data, 'signed', `${zone}signed`);
  }

  /** What one zone's input may hold (service.zone-input-*). */
  private get limits(): ZoneInputLimits {
    return this.ctx.config().service.zoneInput;
  }

  private served(state: ZoneState): number | null {
    return this.ctx.publisher.facts(state.config.name).serial;
  }

  /**
   * Serves the signed version left by the last run, if there is one (a restart resumes, OPS-7):
   * its compact file when it mirrors the signed text file and every block of it checks out,
   * else one made again from the text file (the authority), the reason logged.
   */
  resume(state: ZoneState): void {
    const path = this.signedPath(state.config.name);
    const version = this.openServed(state.config.name, path);
    if (version === undefined) return;
    this.ctx.publisher.publish(state.config.name, version, this.ctx.keeper.store.getZone(state.config.name)?.lastSigned ?? null);
    this.recordServedSerial(state.config.name, path, version.serial);
    state.stamp = this.stampOf(state.config);
    if (state.config.input.kind === 'primary') {
      try {
        state.upstream = loadZoneFile(this.inputFile(state.config), Name.parse(state.config.name), undefined, this.limits);
      } catch {
        // none kept yet: the next run transfers the whole zone
      }
    }
  }

  /**
   * The version of the signed text file at `path` as it is served: its compact file when that
   * mirrors the text file as it is now and every block checks out; else one made again from
   * the text file, the reason logged (a compact file damaged, stale or missing never serves).
   * Undefined when there is no signed file, or it cannot be read (then logged).
   */
  private openServed(zone: string, path: string): ServedVersion | undefined {
    let stamp: string;
    try {
      stamp = fileStamp(path);
    } catch {
      return undefined;
    }
    const compact = servedFileOf(path);
    let version: ServedFile | undefined;
    try {
      version = ServedFile.open(compact, Name.parse(zone), stamp);
      version.check();
      return version;
    } catch (e) {
      version?.release();
      if (!(e instanceof SignerError && e.code === 'IO' && !existsSync(compact)))
        this.ctx.log.warn(
          { zone, file: compact, reason: e instanceof Error ? e.message : String(e) },
          'the compact served version cannot be used; it is made again from the signed text file',
        );
    }
    try {
      return this.servedFromText(zone, path);
    } catch (e) {
      this.ctx.log.error(
        { zone, file: path, reason: e instanceof Error ? e.message : String(e) },
        'the last signed version cannot be read; it will be made again',
      );
      return undefined;
    }
  }

  /** The signed text file read, and its compact file written from it (the graph is dropped after). */
  private servedFromText(zone: string, path: string): ServedFile {
    const stamp = fileStamp(path);
    return writeServedFile(servedFileOf(path), loadZoneFile(path, Name.parse(zone), undefined, SIGNED_FILE_LIMITS), stamp);
  }

  /**
   * The serial of the signed file on disk is recorded in the state when the state's is behind
   * it: only a run of an older hms, killed between writing the file and recording its serial,
   * leaves it so. The file may have been served, so its serial is never used again for other data.
   */
  private recordServedSerial(name: string, path: string, onDisk: number): void {
    const row = this.ctx.keeper.store.getZone(name);
    if (row === undefined || (row.lastSerial !== null && !serialGreater(onDisk, row.lastSerial))) return;
    this.ctx.log.warn(
      { zone: name, file: path, serial: onDisk, stateSerial: row.lastSerial },
      'the signed file on disk carries a serial the state had not recorded (a run stopped between writing it and recording it); recorded now, the next version follows it',
    );
    const acting = this.ctx.acting(`serial ${onDisk} of ${path} recorded: it may have been served`);
    this.ctx.keeper.store.updateZone(name, { lastSerial: onDisk }, { actor: acting.who.user, ticket: acting.ticket, comment: acting.comment, at: acting.at });
  }

  /**
   * A zone whose signed version is current: its keys are checked against the HSM (a key
   * missing there is an alarm, never a new key) and the next key event is timed.
   */
  resumePlan(state: ZoneState): void {
    const name = state.config.name;
    try {
      const p = this.ctx.keeper.plan(this.ctx.keeper.zone(name), this.ctx.now());
      this.ctx.log.info(
        { zone: name, serial: this.served(state), next: p.next === null ? null : isoSeconds(p.next) },
        'zone resumed: the signed version on disk is current',
      );
      if (p.actions.length > 0) void state.job.trigger('a key event is due');
      else if (p.next !== null) state.job.at(p.next * 1000, 'a key event is due');
      this.recordKeys(name, p.next);
    } catch (e) {
      state.lastError = e instanceof Error ? e.message : String(e);
      this.ctx.log.error(
        { alarm: true, zone: name, reason: state.lastError, serving: this.served(state) },
        'ALARM: the zone cannot be planned; the last signed version stays served',
      );
      this.ctx.alarms.raise({
        key: zoneAlarm.plan(name),
        severity: 'critical',
        zone: name,
        message: `zone ${name} cannot be planned at start: ${state.lastError}; the last signed version stays served`,
      });
      void state.job.trigger('retry after the failure at start');
    }
  }

  /**
   * At start: keys recorded as intended whose making was not recorded (a stop in between) are
   * settled against the token, each logged (Keeper.settlePending); then keys the token holds
   * under the zone's label that the state does not record (made by hand, or by an older hms
   * killed between making a key and recording it) are an alarm naming each; the service goes
   * on, and never signs with them (hms key purge removes them). A token that cannot be read
   * here is reported by the zone's run, as an HSM failure.
   */
  reportOrphans(state: ZoneState): void {
    const name = state.config.name;
    try {
      for (const k of this.ctx.keeper.settlePending(name, this.ctx.acting('a key recorded as intended before a stop, settled at start'))) {
        this.ctx.log.warn(
          { zone: name, role: k.pending.role, id: k.pending.id, label: k.pending.label, keyTag: k.keyTag, removed: k.removed },
          k.outcome === 'completed'
            ? 'a key recorded as intended when hms stopped had been made in the HSM: recorded now from the token'
            : 'a key recorded as intended when hms stopped had not been made whole in the HSM: dropped',
        );
      }
      const { orphans } = this.ctx.keeper.reconciled(name);
      if (orphans.length === 0) return this.ctx.alarms.clear(zoneAlarm.orphans(name));
      this.ctx.alarms.raise({
        key: zoneAlarm.orphans(name),
        severity: 'warning',
        zone: name,
        message: `zone ${name}: the token holds keys the state does not record (${orphans.map((o) => `${o.role.toUpperCase()} ${o.keyTag}`).join(', ')}); they never sign: hms key purge removes them`,
      });
      this.ctx.log.error(
        {
          alarm: true,
          zone: name,
          token: this.ctx.config().hsm.token,
          orphans: orphans.map((o) => ({ keyTag: o.keyTag, role: o.role, id: o.id, label: o.label })),
          reason: `${orphans.map((o) => `${o.role.toUpperCase()} ${o.keyTag}`).join(', ')} in the token, not in the state: hms key list ${name} shows them, hms key purge ${name} --keytag N --ticket T removes one`,
        },
        'ALARM: the token holds keys the state does not record (orphans); they are not used for signing',
      );
    } catch (e) {
      this.ctx.log.warn({ zone: name, reason: e instanceof Error ? e.message : String(e) }, 'the token could not be checked for orphan keys at start');
    }
  }

  /**
   * Why the zone needs signing now, or null when the served version is current. The input is
   * read asynchronously: the zones served already keep being answered meanwhile.
   */
  async due(state: ZoneState): Promise<string | null> {
    if (this.ctx.publisher.served(state.config.name) === undefined) return 'no signed version yet';
    const row = this.ctx.keeper.store.getZone(state.config.name);
    if (row === undefined || row.lastSigned === null) return 'not signed yet';
    // the state's serial is ahead of the one served: the service stopped while a version was written
    const served = this.served(state);
    if (row.lastSerial !== null && served !== null && serialGreater(row.lastSerial, served))
      return `serial ${row.lastSerial} was recorded but not published (a run was stopped while writing it)`;
    if (row.input !== this.inputFile(state.config) || row.policy !== state.config.policy) return 'the configuration changed';
    const policy = this.ctx.keeper.policy(row.policy);
    if (this.ctx.now() >= row.lastSigned + policy.signatures.resignInterval) return 're-sign interval reached';
    if (state.config.input.kind === 'primary') return 'refresh from the primary';
    // an input changed while the service was down differs from the newest revision
    const newest = this.ctx.keeper.store.revisions(state.config.name, 1)[0];
    try {
      const input = await readZoneFile(this.inputFile(state.config), Name.parse(state.config.name), { limits: this.limits });
      if (newest === undefined || revisionDigest(input) !== newest.sha256) return 'the input changed since the last run';
      // the key timings need its TTLs: it is not read again, synchronously, for them
      this.ctx.keeper.noteInput(row, input);
    } catch {
      return 'the input cannot be read';
    }
    return null;
  }

  inputFile(z: ServiceZone): string {
    if (z.input.kind === 'file') return z.input.file;
    return join(this.ctx.config().service.data, 'upstream', `${z.name}zone`);
  }

  stampOf(z: ServiceZone): string {
    try {
      const s = statSync(this.inputFile(z));
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  /** One run of the zone pipeline: load, check, keep the revision, sign and verify, commit, publish. */
  async run(state: ZoneState, reasons: readonly string[]): Promise<RunOutcome> {
    const zoneName = state.config.name;
    const z = state.config;
    const log = this.ctx.log.child({ zone: zoneName });
    const acting = this.ctx.acting(reasons.join('; '));
    const file = this.inputFile(z);
    if (z.input.kind === 'primary') {
      const fetched = await this.fetchUpstream(state, log);
      if (!fetched.ok) return this.failed(zoneName, 'primary', 'warning', `transfer from the primary ${z.input.primary.address} failed`, fetched.outcome);
      if (
        !fetched.changed &&
        this.ctx.publisher.served(zoneName) !== undefined &&
        reasons.every((r) => r.startsWith('NOTIFY from') || r === 'refresh from the primary')
      ) {
        return this.nextRun(state, this.ctx.keeper.plan(this.ctx.keeper.zone(zoneName), this.ctx.now()).next);
      }
    }
    state.stamp = this.stampOf(z);
    // how long each stage took (the log line of a version signed and published)
    const stages = new StageTimes();
    // load and check: a bad input waits for a person; the served version stays (OPS-7)
    let input: Zone;
    // the zone's signing set up first, so that its input is signed as it is read (as `hms sign` does)
    const ahead = await signingAhead(this.ctx.keeper, zoneName, acting.at, () => this.urgency(zoneName));
    let presigner: Presigner | undefined;
    const fingerprint = new InputFingerprint();
    try {
      // asynchronous: the event loop turns while it is read, the other zones keep being served
      const reading = { limits: this.limits, observe: (r: ZoneRecord) => fingerprint.add(r) };
      if (ahead === undefined) input = await readZoneFile(file, Name.parse(zoneName), reading);
      else ({ zone: input, presigner } = await readSigningAhead(file, Name.parse(zoneName), ahead.options, reading));
      stages.end('read');
      const findings = checkZone(input);
      if (hasErrors(findings)) throw new ZoneCheckError(zoneName, findings);
      stages.end('check');
    } catch (e) {
      ahead?.close();
      const error = e instanceof Error ? e : new Error(String(e));
      state.lastError = error.message;
      log.error({ file, reason: error.message, serving: this.served(state) }, 'input refused; the last good signed version stays served');
      return this.failed(zoneName, 'input', 'warning', `input ${file} refused`, { ok: false, retry: !(e instanceof SignerError) || e.code === 'IO', error });
    }
    this.ctx.alarms.clear(zoneAlarm.input(zoneName), `zone ${zoneName}: input ${file} accepted`);
    const keysBefore = this.keyDigest(zoneName);
    let releasePrevious: (() => void) | undefined;
    try {
      if (state.dropped !== undefined) throw new SignerError('USAGE', state.dropped);
      this.ensureManaged(z, file, acting);
      this.ctx.keeper.noteInput(this.ctx.keeper.zone(zoneName), input);
      const revision = this.keptRevision(zoneName, fingerprint.digest(), () =>
        keepRevision(this.ctx.keeper.store, input, z.input.kind === 'file' ? `file ${file}` : `primary ${z.input.primary.address}`, {
          actor: acting.who.user,
          at: acting.at,
          comment: acting.comment,
        }),
      );
      // the input just read and checked, and the signed version kept (compactly, on disk) as it is written: neither file is read again
      stages.end('revision');
      let written: ServedVersion | undefined;
      const started = performance.now();
      const progress = new SigningProgress({ label: zoneName, log: (fields, msg) => log.info(fields, msg), ...this.ctx.signingProgress });
      // the version served now stays readable (held open) while the re-sign keeps its
      // signatures, while the new version's file takes its name, and until the journal holds it
      const previous = this.ctx.publisher.served(zoneName);
      releasePrevious = previous?.retain();
      const signed = await signManagedZone(this.ctx.keeper, zoneName, acting, this.signedPath(zoneName), {
        dropped: () => state.dropped,
        input: { file, zone: input },
        written: (v) => {
          written = v;
        },
        served: this.served(state),
        ...(previous === undefined ? {} : { previous }),
        progress: progress.update,
        urgency: this.urgency(zoneName),
        ...(ahead === undefined || presigner === undefined ? {} : { ahead: { run: ahead, presigned: presigner } }),
      }).finally(() => progress.finish());
      stages.end('sign');
      // an unsigned version (insecure, DP-4.7b) is written as text only: its compact file is made from it
      const zone = written ?? this.servedFromText(zoneName, this.signedPath(zoneName));
      this.ctx.publisher.publish(zoneName, zone, acting.at, true);
      releasePrevious?.();
      stages.end('publish');
      this.ctx.metrics.recordSign(zoneName, { seconds: (performance.now() - started) / 1000, signatures: signed.signatures });
      for (const key of [zoneAlarm.sign, zoneAlarm.hsm, zoneAlarm.plan])
        this.ctx.alarms.clear(key(zoneName), `zone ${zoneName}: serial ${signed.serial} signed and published`);
      if (z.output !== undefined) copyFileAtomically(this.signedPath(zoneName), z.output);
      state.lastError = null;
      log.info(
        {
          serial: signed.serial,
          revision: revision.rev,
          signatures: signed.signatures,
          ...(signed.kept === undefined ? {} : { kept: signed.kept }),
          ...(presigner === undefined ? {} : { signedAhead: presigner.used }),
          seconds: stages.seconds,
          records: zone.recordCount,
          expires: expiry(this.ctx.publisher.facts(zoneName).expires),
          reasons,
        },
        'zone signed and published',
      );
      await this.ctx.keeper.prepareKeys(zoneName, this.ctx.now());
      const plan = this.ctx.keeper.enforce(zoneName, this.ctx.acting('after signing'));
      for (const g of plan.gates) if (g.from <= this.ctx.now()) log.info({ keyTag: g.keyTag, gate: g.kind }, `waiting for people: ${g.what}`);
      this.recordKeys(zoneName, plan.next);
      if (keysBefore !== this.keyDigest(zoneName)) this.ctx.keysChanged(zoneName);
      this.ctx.signed(zoneName);
      return this.nextRun(state, plan.next);
    } catch (e) {
      ahead?.close(); // before an HSM reset, which waits for every lane to end
      releasePrevious?.();
      const error = e instanceof Error ? e : new Error(String(e));
      // removed meanwhile, or the service stopping: nothing to alarm about, nothing to retry
      if (state.dropped !== undefined) {
        log.info({ reason: state.dropped, serving: this.served(state) }, 'run ended unfinished');
        return { ok: false, retry: false, error };
      }
      state.lastError = error.message;
      if (e instanceof HsmError || (e instanceof SignerError && e.code === 'HSM')) {
        log.error({ alarm: true, reason: error.message, serving: this.served(state) }, 'ALARM: the HSM failed; the last good signed version stays served');
        await this.ctx.keeper.resetHsm();
        this.failed(zoneName, 'hsm', 'critical', 'the HSM failed', { ok: false, retry: true, error });
      } else {
        log.error({ reason: error.message, serving: this.served(state) }, 'signing failed; the last good signed version stays served');
        this.failed(zoneName, 'sign', 'critical', 'signing failed', { ok: false, retry: true, error });
      }
      this.ctx.publisher.checkValidity();
      return { ok: false, retry: true, error };
    }
  }

  /** A run that failed at `stage`: counted, and its alarm raised (the reason in it) until a run gets past that stage. */
  private failed(zone: string, stage: 'input' | 'primary' | 'sign' | 'hsm', severity: 'warning' | 'critical', what: string, outcome: RunOutcome): RunOutcome {
    this.ctx.metrics.recordFailure(zone, stage);
    const reason = outcome.ok ? '' : `: ${outcome.error.message}`;
    this.ctx.alarms.raise({
      key: zoneAlarm[stage](zone),
      severity,
      zone,
      message: `zone ${zone}: ${what}${reason}; the last good signed version stays served`,
    });
    return outcome;
  }

  /** The zone's key records and next key event, for the metrics (the key states are worked out at each scrape). */
  private recordKeys(zone: string, next: UnixSeconds | null): void {
    const row = this.ctx.keeper.store.getZone(zone);
    if (row === undefined) return;
    try {
      const readyAfter = timings(this.ctx.keeper.policy(row.policy), this.ctx.keeper.facts(row)).publish;
      this.ctx.metrics.recordKeys(zone, this.ctx.keeper.store.keys(zone), readyAfter, next);
    } catch (e) {
      this.ctx.log.warn({ zone, reason: e instanceof Error ? e.message : String(e) }, 'metrics, the key states could not be worked out');
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
    const key = this.ctx.config().service.tsigKeys.find((k) => k.name.equals(Name.parse(`${input.key}.`)))!;
    try {
      const result = await fetchZone(input.primary, Name.parse(z.name), {
        tsig: key,
        ...(state.upstream === undefined ? {} : { current: state.upstream }),
        source: this.ctx.config().service.source,
        log: ({ msg, ...event }) => log.info(event, msg),
      });
      if (result.status === 'unchanged') {
        this.ctx.alarms.clear(zoneAlarm.primary(z.name), `zone ${z.name}: the primary ${input.primary.address} answers again`);
        return { ok: true, changed: false };
      }
      const findings = checkZone(result.zone);
      if (hasErrors(findings)) throw new ZoneCheckError(z.name, findings);
      writeZoneFileAtomically(
        this.inputFile(z),
        canonicalText(result.zone)
          .split('\n')
          .filter((l) => l !== ''),
      );
      state.upstream = result.zone;
      this.ctx.alarms.clear(zoneAlarm.primary(z.name), `zone ${z.name}: a new version came from the primary ${input.primary.address}`);
      log.info({ serial: result.serial, method: result.method, primary: input.primary.address }, 'new version from the primary');
      return { ok: true, changed: true };
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      state.lastError = error.message;
      log.error(
        { primary: input.primary.address, reason: error.message, serving: this.served(state) },
        'transfer from the primary failed; the last good signed version stays served',
      );
      return { ok: false, outcome: { ok: false, retry: !(e instanceof ZoneCheckError), error } };
    }
  }

  /** How urgent the zone's signing is in the shared pool (signingUrgency). */
  private urgency(zone: string): Urgency {
    const row = this.ctx.keeper.store.getZone(zone);
    if (row === undefined) return 'due';
    return signingUrgency(this.ctx.publisher.facts(zone), row.lastSigned, this.ctx.keeper.policy(row.policy).signatures, this.ctx.now());
  }

  /**
   * The revision an input read now is kept as: the newest one, without printing the zone again,
   * when the last run read the same records (`fingerprint`) and that revision is still the
   * newest; else `keep()`'s (keepRevision: the canonical text of the whole zone and its digest).
   */
  private keptRevision(zone: string, fingerprint: string, keep: () => RevisionRow): RevisionRow {
    const last = this.revisionRead.get(zone);
    const newest = last?.fingerprint === fingerprint ? this.ctx.keeper.store.revisions(zone, 1)[0] : undefined;
    const revision = newest !== undefined && newest.rev === last!.revision.rev && newest.sha256 === last!.revision.sha256 ? newest : keep();
    this.revisionRead.set(zone, { fingerprint, revision });
    return revision;
  }

  /**
   * The zone is no longer served: its signatures waiting in the shared pool are dropped, and a
   * run that has not begun signing yet (reading its input, waiting for the pool) never does;
   * its run ends at once (the others go on).
   */
  drop(state: ZoneState): void {
    const zone = state.config.name;
    this.revisionRead.delete(zone);
    this.abandon(state, `zone ${zone} is no longer served (removed from ${this.ctx.config().file}): its signing was dropped`);
  }

  /**
   * The zone's run under way, if any, ends unfinished as a dropped zone's does (`why` in its
   * log line): the service is stopping (SIGTERM), and a re-sign of a million records is not
   * made to finish first. As with any run that fails, what it was signing never takes the
   * place of what is served; the next start serves the last version and signs again what was due.
   */
  abandon(state: ZoneState, why: string): void {
    state.dropped = why;
    this.ctx.keeper.dropSigning(state.config.name, why);
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
    return this.ctx.now() + Math.max(60, decodeSoa(state.upstream.soa.records[0]!.rdata).refresh);
  }

  /** The zone's key records as one string: a change means its DS in a parent here may change. */
  private keyDigest(zone: string): string {
    return JSON.stringify(
      this.ctx.keeper.store.getZone(zone) === undefined
        ? []
        : this.ctx.keeper.store.keys(zone).map((k) => [k.id, k.publish, k.remove, k.dsSeen, k.dsWithdrawn]),
    );
  }

  /** Adds the zone to the state the first time, and follows the configuration's input and policy after. */
  private ensureManaged(z: ServiceZone, file: string, acting: Acting): void {
    const row = this.ctx.keeper.store.getZone(z.name);
    const audit = { actor: acting.who.user, at: acting.at, comment: `from the configuration ${this.ctx.config().file}` };
    if (row === undefined) {
      this.ctx.keeper.policy(z.policy);
      this.ctx.keeper.store.addZone(
        {
          name: z.name,
          policy: z.policy,
          input: file,
          added: acting.at,
          saltHex: null,
          saltCreated: null,
          lastSerial: null,
          lastSigned: null,
          insecureSince: null,
          parentServers: [...z.parentServers],
        },
        audit,
      );
    } else if (
      row.input !== file ||
      row.policy !== z.policy ||
      (z.parentServers.length > 0 && JSON.stringify(row.parentServers) !== JSON.stringify(z.parentServers))
    ) {
      this.ctx.keeper.policy(z.policy);
      this.ctx.keeper.store.updateZone(
        z.name,
        { input: file, policy: z.policy, ...(z.parentServers.length > 0 ? { parentServers: [...z.parentServers] } : {}) },
        audit,
      );
    }
  }
}

/** Seconds per stage of a run, each from the end of the one before. */
class StageTimes {
  readonly seconds: Record<string, number> = {};
  private last = performance.now();

  end(stage: string): void {
    const now = performance.now();
    this.seconds[stage] = Math.round(now - this.last) / 1000;
    this.last = now;
  }
}
