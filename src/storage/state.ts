import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { canonicalJson } from '../common/canonical-json.js';
import type { UnixSeconds } from '../common/clock.js';
import { Name } from '../dns/name.js';
import { ApprovalError, SignerError, StateError } from '../common/errors.js';
import { AuditChainVerifier, chainAuditRecord, type AuditInput, type AuditRecord, type AuditSink, type AuditVerification } from '../enforcer/audit-chain.js';
import type { KeyRecord } from '../enforcer/keys.js';
import type { AuditContext, PendingKey, RevisionInput, RevisionRow, StatePorts } from '../enforcer/ports.js';
import { appendCheckpoint, prepareCheckpoint } from './audit-checkpoint.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import {
  formatRequestId,
  keyForAudit,
  keyFromDb,
  keyToDb,
  normalizeRequestId,
  pendingKeyFromDb,
  pendingKeyToDb,
  requestFromDb,
  zoneFromDb,
  zoneToDb,
  type AuditDbRow,
  type KeyDbRow,
  type PendingKeyDbRow,
  type RequestDbRow,
  type RequestInput,
  type RequestRow,
  type RequestStatus,
  type ZoneDbRow,
  type ZonePatch,
  type ZoneRow,
} from './rows.js';

export type { AuditContext, PendingKey, RequestInput, RequestRow, RequestStatus, RevisionInput, RevisionRow, ZonePatch, ZoneRow } from '../enforcer/ports.js';

export interface OpenOptions {
  /** Open an existing file without writing to it (no migrations). */
  readonly readonly?: boolean;
  /** Refuse to create a new file. Implied by `readonly`. */
  readonly mustExist?: boolean;
  /** Receives each audit record once its transaction has committed (the structured log, syslog). */
  readonly auditSink?: AuditSink;
  /**
   * The audit checkpoint (DP-2.4d): each committed record's seq, time and hash is appended
   * to this file outside the state's folder, so that a rewrite of the trail shows. Without
   * it no checkpoint is kept (tests, tools); every writer of the service gives it.
   */
  readonly checkpoint?: string;
}

interface Pending {
  readonly record: AuditRecord;
  readonly sink: AuditSink | undefined;
}

/**
 * The signer's state in one SQLite file: zones, keys and their times, requests awaiting
 * approval and the audit trail. WAL with synchronous=FULL, so a committed transaction
 * survives a crash or a power cut; every change and its audit record commit together or not
 * at all. Time is always handed in (`at`); nothing here reads the clock.
 */
export class StateStore implements StatePorts {
  private readonly statements = new Map<string, Database.Statement>();
  private pending: Pending[] = [];
  private depth = 0;

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    private readonly sink: AuditSink | undefined,
    private readonly checkpoint: string | undefined,
  ) {}

  static open(path: string, options: OpenOptions = {}): StateStore {
    const readonly = options.readonly === true;
    if (!existsSync(path)) {
      if (readonly || options.mustExist === true) throw new StateError(`${path}: no state file (give --state or set HMS_STATE)`, { details: { path } });
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // created empty with mode 0600 before SQLite opens it; the -wal and -shm files take its mode
      closeSync(openSync(path, 'wx', 0o600));
    }
    let db: Database.Database;
    try {
      db = new Database(path, { readonly, fileMustExist: true });
      if (!readonly) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db, path, readonly);
    } catch (e) {
      if (e instanceof StateError) throw e;
      throw new StateError(`${path}: cannot open the state file: ${e instanceof Error ? e.message : String(e)}`, { details: { path }, cause: e });
    }
    if (!readonly && options.checkpoint !== undefined) {
      try {
        prepareCheckpoint(options.checkpoint);
      } catch (e) {
        db.close();
        throw e;
      }
    }
    return new StateStore(path, db, options.auditSink, readonly ? undefined : options.checkpoint);
  }

  close(): void {
    this.db.close();
  }

  /** What this connection runs with: WAL, synchronous FULL (2) and foreign keys, as SQLite reports them. */
  settings(): { journalMode: string; synchronous: number; foreignKeys: boolean } {
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
      foreignKeys: this.db.pragma('foreign_keys', { simple: true }) === 1,
    };
  }

  /** The schema version of the open file. */
  schemaVersion(): number {
    return schemaVersionOf(this.db);
  }

  /**
   * Runs `fn` as one transaction: all of it commits, or none of it (a throw rolls back).
   * Nested calls become savepoints. Audit records reach the sink only after the outermost
   * transaction has committed.
   */
  transaction<T>(fn: () => T): T {
    const mark = this.pending.length;
    this.depth++;
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } catch (e) {
      this.pending.length = mark;
      throw e;
    } finally {
      this.depth--;
    }
    if (this.depth === 0) this.flushAudit();
    return result;
  }

  // -- zones

  addZone(z: ZoneRow, audit: AuditContext): void {
    checkZoneName(z.name);
    this.transaction(() => {
      if (this.getZone(z.name) !== undefined) throw new StateError(`zone ${z.name} exists already`, { details: { zone: z.name } });
      this.run(
        'INSERT INTO zones (name, policy, input, added, salt_hex, salt_created, last_serial, last_signed, insecure_since, parent_servers) VALUES (@name, @policy, @input, @added, @salt_hex, @salt_created, @last_serial, @last_signed, @insecure_since, @parent_servers)',
        zoneToDb(z),
      );
      this.audit(audit, 'zone.add', z.name, null, z);
    });
  }

  getZone(name: string): ZoneRow | undefined {
    const row = this.stmt('SELECT * FROM zones WHERE name = ?').get(name) as ZoneDbRow | undefined;
    return row === undefined ? undefined : zoneFromDb(row);
  }

  listZones(): ZoneRow[] {
    return (this.stmt('SELECT * FROM zones ORDER BY name').all() as ZoneDbRow[]).map(zoneFromDb);
  }

  /**
   * The zones below `name` (not itself), in name order: a run asks at least twice (the DS of its
   * child zones, its timings), and listing every zone for it made a re-sign of 1,000 zones spend
   * 23 s of its 60 in listZones.
   */
  zonesBelow(name: string): ZoneRow[] {
    const apex = Name.parse(name);
    // names end with the apex's text after a dot; a name with an escaped dot may too and is no subdomain, hence the check after
    const suffix = apex.isRoot ? '.' : `.${apex.toLowerCase().toString()}`;
    const rows = this.stmt('SELECT * FROM zones WHERE lower(substr(name, -length(@suffix))) = @suffix AND name <> @name ORDER BY name').all({
      suffix,
      name,
    }) as ZoneDbRow[];
    return rows.map(zoneFromDb).filter((z) => {
      const n = Name.parse(z.name);
      return !n.equals(apex) && n.isSubdomainOf(apex);
    });
  }

  updateZone(name: string, patch: ZonePatch, audit: AuditContext): ZoneRow {
    return this.transaction(() => {
      const before = this.zone(name);
      const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as ZonePatch;
      const after: ZoneRow = { ...before, ...defined, name };
      this.run(
        'UPDATE zones SET policy = @policy, input = @input, added = @added, salt_hex = @salt_hex, salt_created = @salt_created, last_serial = @last_serial, last_signed = @last_signed, insecure_since = @insecure_since, parent_servers = @parent_servers WHERE name = @name',
        zoneToDb(after),
      );
      this.audit(audit, 'zone.update', name, before, after);
      return after;
    });
  }

  /** Removes a zone that has no keys left (its keys are deleted first, each with its audit record). */
  removeZone(name: string, audit: AuditContext): void {
    this.transaction(() => {
      const before = this.zone(name);
      const keys = this.keys(name).length;
      if (keys > 0) throw new StateError(`zone ${name} still has ${keys} key(s): delete them first`, { details: { zone: name, keys } });
      const pending = this.pendingKeys(name).length;
      if (pending > 0)
        throw new StateError(
          `zone ${name} has ${pending} key(s) recorded as intended and not settled (a stop while a key was made): start hms run once, it settles them`,
          { details: { zone: name, pending } },
        );
      this.run('DELETE FROM zones WHERE name = ?', name);
      this.audit(audit, 'zone.remove', name, before, null);
    });
  }

  private zone(name: string): ZoneRow {
    const z = this.getZone(name);
    if (z === undefined) throw new StateError(`no zone ${name}`, { details: { zone: name } });
    return z;
  }

  // -- keys

  /** Stores a key record, replacing the one with the same id. */
  putKey(zone: string, k: KeyRecord, audit: AuditContext): void {
    this.transaction(() => {
      this.zone(zone);
      const old = this.stmt('SELECT * FROM keys WHERE id = ?').get(k.id) as KeyDbRow | undefined;
      if (old !== undefined && old.zone !== zone)
        throw new StateError(`key ${k.id} belongs to zone ${old.zone}, not ${zone}`, { details: { zone, keyId: k.id } });
      this.run(
        `INSERT OR REPLACE INTO keys (id, zone, role, algorithm, bits, key_tag, dnskey, created, publish, active, retire, remove, ds_seen, ds_withdrawn, successor_of, compromised)
        VALUES (@id, @zone, @role, @algorithm, @bits, @key_tag, @dnskey, @created, @publish, @active, @retire, @remove, @ds_seen, @ds_withdrawn, @successor_of, @compromised)`,
        keyToDb(zone, k),
      );
      this.audit(audit, 'key.put', zone, old === undefined ? null : keyForAudit(keyFromDb(old)), keyForAudit(k));
    });
  }

  keys(zone: string): KeyRecord[] {
    return (this.stmt('SELECT * FROM keys WHERE zone = ? ORDER BY created, id').all(zone) as KeyDbRow[]).map(keyFromDb);
  }

  deleteKey(zone: string, id: string, audit: AuditContext): void {
    this.transaction(() => {
      const old = this.stmt('SELECT * FROM keys WHERE zone = ? AND id = ?').get(zone, id) as KeyDbRow | undefined;
      if (old === undefined) throw new StateError(`zone ${zone} has no key ${id}`, { details: { zone, keyId: id } });
      this.run('DELETE FROM keys WHERE id = ?', id);
      this.audit(audit, 'key.delete', zone, keyForAudit(keyFromDb(old)), null);
    });
  }

  pendingKeys(zone: string): PendingKey[] {
    return (this.stmt('SELECT * FROM pending_keys WHERE zone = ? ORDER BY created, id').all(zone) as PendingKeyDbRow[]).map(pendingKeyFromDb);
  }

  addPendingKey(zone: string, k: PendingKey, audit: AuditContext): void {
    this.transaction(() => {
      this.zone(zone);
      if (this.stmt('SELECT 1 FROM keys WHERE id = ? UNION ALL SELECT 1 FROM pending_keys WHERE id = ?').get(k.id, k.id) !== undefined) {
        throw new StateError(`key ${k.id} is recorded already`, { details: { zone, keyId: k.id } });
      }
      this.run(
        `INSERT INTO pending_keys (id, zone, label, role, algorithm, bits, created, publish, active, successor_of, reason, ds_seen, former_labels)
        VALUES (@id, @zone, @label, @role, @algorithm, @bits, @created, @publish, @active, @successor_of, @reason, @ds_seen, @former_labels)`,
        pendingKeyToDb(zone, k),
      );
      this.audit(audit, 'key.pending', zone, null, k);
    });
  }

  completePendingKey(zone: string, k: KeyRecord, audit: AuditContext): void {
    this.transaction(() => {
      this.pendingKey(zone, k.id);
      this.run('DELETE FROM pending_keys WHERE id = ?', k.id);
      this.putKey(zone, k, audit);
    });
  }

  dropPendingKey(zone: string, id: string, audit: AuditContext): void {
    this.transaction(() => {
      const before = this.pendingKey(zone, id);
      this.run('DELETE FROM pending_keys WHERE id = ?', id);
      this.audit(audit, 'key.pending.drop', zone, before, null);
    });
  }

  private pendingKey(zone: string, id: string): PendingKey {
    const row = this.stmt('SELECT * FROM pending_keys WHERE zone = ? AND id = ?').get(zone, id) as PendingKeyDbRow | undefined;
    if (row === undefined) throw new StateError(`zone ${zone} has no pending key ${id}`, { details: { zone, keyId: id } });
    return pendingKeyFromDb(row);
  }

  // -- requests awaiting a second person (DP-4.7d)

  addRequest(r: RequestInput, audit: AuditContext): string {
    return this.transaction(() => {
      this.zone(r.zone);
      const seq = (this.stmt('SELECT coalesce(max(seq), 0) + 1 AS next FROM requests').get() as { next: number }).next;
      const id = formatRequestId(seq);
      const payload = canonicalJson(r.payload ?? null);
      this.run(
        `INSERT INTO requests (seq, id, zone, kind, key_tag, payload, requested_by, requested_at, ticket, status)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
        seq,
        id,
        r.zone,
        r.kind,
        r.keyTag,
        payload,
        r.requestedBy,
        r.requestedAt,
        r.ticket,
      );
      this.audit(audit, 'request.add', r.zone, null, this.request(id));
      return id;
    });
  }

  getRequest(id: string): RequestRow | undefined {
    const row = this.stmt('SELECT * FROM requests WHERE id = ?').get(normalizeRequestId(id)) as RequestDbRow | undefined;
    return row === undefined ? undefined : requestFromDb(row);
  }

  listRequests(filter: { zone?: string; status?: RequestStatus } = {}): RequestRow[] {
    const rows = this.stmt('SELECT * FROM requests WHERE (@zone IS NULL OR zone = @zone) AND (@status IS NULL OR status = @status) ORDER BY seq').all({
      zone: filter.zone ?? null,
      status: filter.status ?? null,
    }) as RequestDbRow[];
    return rows.map(requestFromDb);
  }

  /** DP-4.7d: a second person approves; the one who asked cannot. */
  approveRequest(id: string, by: string, at: UnixSeconds, audit: AuditContext): RequestRow {
    return this.decide(id, by, at, 'approved', null, audit);
  }

  rejectRequest(id: string, by: string, at: UnixSeconds, reason: string, audit: AuditContext): RequestRow {
    return this.decide(id, by, at, 'rejected', reason, audit);
  }

  private decide(id: string, by: string, at: UnixSeconds, status: RequestStatus, reason: string | null, audit: AuditContext): RequestRow {
    return this.transaction(() => {
      const before = this.request(id);
      const verb = status === 'approved' ? 'approve' : 'reject';
      if (before.status !== 'pending')
        throw new ApprovalError(`request ${before.id}: it is ${before.status} already, nothing to ${verb}`, { id: before.id, status: before.status });
      // DP-4.7d: two persons; a rejection by the requester is a withdrawal and allowed
      if (status === 'approved' && by === before.requestedBy) {
        throw new ApprovalError(`request ${before.id}: ${by} made this request and cannot approve it; a second person must (DP-4.7d)`, {
          id: before.id,
          requestedBy: before.requestedBy,
          by,
        });
      }
      this.run('UPDATE requests SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ?', status, by, at, reason, before.id);
      const after = this.request(before.id);
      this.audit(audit, `request.${verb}`, before.zone, before, after);
      return after;
    });
  }

  private request(id: string): RequestRow {
    const r = this.getRequest(id);
    if (r === undefined) throw new StateError(`no request ${id}`, { details: { id } });
    return r;
  }

  // -- the audit trail

  /** Appends one audit record (in a transaction of its own, or in the caller's). */
  appendAudit(e: AuditInput, sink?: AuditSink): AuditRecord {
    return this.transaction(() => {
      const last = this.stmt('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string } | undefined;
      const record = chainAuditRecord(e, last ?? null);
      this.run(
        `INSERT INTO audit (seq, at, actor, action, zone, ticket, comment, before_json, after_json, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        record.seq,
        record.at,
        record.actor,
        record.action,
        record.zone,
        record.ticket,
        record.comment,
        canonicalJson(record.before),
        canonicalJson(record.after),
        record.prevHash,
        record.hash,
      );
      this.pending.push({ record, sink });
      return record;
    });
  }

  /** The audit records, oldest first; `since` keeps those at or after that time. */
  auditLog(filter: { zone?: string; since?: UnixSeconds } = {}): AuditRecord[] {
    const rows = this.stmt('SELECT * FROM audit WHERE (@zone IS NULL OR zone = @zone) AND (@since IS NULL OR at >= @since) ORDER BY seq').all({
      zone: filter.zone ?? null,
      since: filter.since ?? null,
    }) as AuditDbRow[];
    return rows.map(auditFromDb);
  }

  /** Walks the whole chain (DP-2.4d): the first edited, missing or reordered record. */
  verifyAudit(): AuditVerification {
    const verifier = new AuditChainVerifier();
    for (const row of this.stmt('SELECT * FROM audit ORDER BY seq').iterate() as IterableIterator<AuditDbRow>) {
      let record: AuditRecord;
      try {
        record = auditFromDb(row);
      } catch (e) {
        verifier.reject(row.seq, `its before/after is not JSON (${e instanceof Error ? e.message : String(e)}): the record was edited`);
        continue;
      }
      verifier.check(record);
    }
    return verifier.result();
  }

  private audit(ctx: AuditContext, action: string, zone: string | null, before: unknown, after: unknown): void {
    this.appendAudit({ at: ctx.at, actor: ctx.actor, action, zone, ticket: ctx.ticket ?? null, comment: ctx.comment ?? null, before, after });
  }

  /** The seq, time and hash of one record, as stored (for the comparison with outside copies). */
  auditHashOf(seq: number): Pick<AuditRecord, 'seq' | 'at' | 'hash'> | undefined {
    return this.stmt('SELECT seq, at, hash FROM audit WHERE seq = ?').get(seq) as Pick<AuditRecord, 'seq' | 'at' | 'hash'> | undefined;
  }

  /** The newest record's seq; 0 when the trail is empty. */
  lastAuditSeq(): number {
    return (this.stmt('SELECT MAX(seq) AS seq FROM audit').get() as { seq: number | null }).seq ?? 0;
  }

  /**
   * After the commit: the checkpoint first, then the sinks. A checkpoint that cannot be
   * written fails the call loudly, though its change stays committed: the message says so.
   */
  private flushAudit(): void {
    const done = this.pending;
    this.pending = [];
    if (done.length === 0) return;
    let failed: unknown;
    if (this.checkpoint !== undefined) {
      try {
        appendCheckpoint(
          this.checkpoint,
          done.map((p) => p.record),
        );
      } catch (e) {
        failed = e;
      }
    }
    for (const { record, sink } of done) {
      this.sink?.(record);
      sink?.(record);
    }
    if (failed !== undefined) {
      const seqs = `${done[0]!.record.seq}${done.length > 1 ? `-${done.at(-1)!.record.seq}` : ''}`;
      throw new SignerError('IO', `audit record(s) ${seqs} are committed, but ${(failed as Error).message}`, {
        details: { path: this.checkpoint, seqs },
        cause: failed,
      });
    }
  }

  // -- revisions (DP-2.6)

  /**
   * Records an accepted input as the zone's next revision, unless it is the same text as the
   * newest one; returns the revision (new or the existing newest). Audited.
   */
  addRevision(zone: string, r: RevisionInput, audit: AuditContext): RevisionRow {
    return this.transaction(() => {
      const newest = this.revisions(zone, 1)[0];
      if (newest !== undefined && newest.sha256 === r.sha256) return newest;
      const row: RevisionRow = {
        zone,
        rev: (newest?.rev ?? 0) + 1,
        at: audit.at,
        actor: audit.actor,
        source: r.source,
        serial: r.serial,
        records: r.records,
        sha256: r.sha256,
      };
      this.run(
        'INSERT INTO revisions (zone, rev, at, actor, source, serial, records, sha256, text_gz) VALUES (@zone, @rev, @at, @actor, @source, @serial, @records, @sha256, @text_gz)',
        { ...row, text_gz: gzipSync(r.text) },
      );
      this.audit(audit, 'zone.revision', zone, newest === undefined ? null : { rev: newest.rev, sha256: newest.sha256 }, row);
      return row;
    });
  }

  /** The zone's revisions, newest first (at most `limit`). */
  revisions(zone: string, limit = -1): RevisionRow[] {
    return this.stmt('SELECT zone, rev, at, actor, source, serial, records, sha256 FROM revisions WHERE zone = ? ORDER BY rev DESC LIMIT ?').all(
      zone,
      limit,
    ) as RevisionRow[];
  }

  /** One revision's text; undefined when there is no such revision. */
  revisionText(zone: string, rev: number): string | undefined {
    const row = this.stmt('SELECT text_gz FROM revisions WHERE zone = ? AND rev = ?').get(zone, rev) as { text_gz: Buffer } | undefined;
    return row === undefined ? undefined : gunzipSync(row.text_gz).toString('utf8');
  }

  /** Writes an audit record for an action that changes nothing in this file (a restore writes the input file). */
  record(action: string, zone: string | null, before: unknown, after: unknown, audit: AuditContext): void {
    this.transaction(() => this.audit(audit, action, zone, before, after));
  }

  // -- backup

  /** An online backup (DP-2.5d) to `path`, created with mode 0600; writers may go on meanwhile. */
  async backup(path: string): Promise<void> {
    if (!existsSync(path)) closeSync(openSync(path, 'wx', 0o600));
    await this.db.backup(path);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private run(sql: string, ...params: unknown[]): void {
    this.stmt(sql).run(...params);
  }
}

function auditFromDb(r: AuditDbRow): AuditRecord {
  const { before_json, after_json, prev_hash, ...same } = r;
  return { ...same, before: JSON.parse(before_json) as unknown, after: JSON.parse(after_json) as unknown, prevHash: prev_hash };
}

function checkZoneName(name: string): void {
  if (name !== name.toLowerCase() || !name.endsWith('.'))
    throw new StateError(`zone name '${name}': lowercase with the trailing dot, please`, { details: { zone: name } });
}

function schemaVersionOf(db: Database.Database): number {
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
  if (table === undefined) return 0;
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  return row?.version ?? 0;
}

/** Brings the file to SCHEMA_VERSION, one step a transaction; a newer file is refused. */
function migrate(db: Database.Database, path: string, readonly: boolean): void {
  const version = schemaVersionOf(db);
  if (version > SCHEMA_VERSION) {
    throw new StateError(`${path}: the state file has schema version ${version}, this hms knows up to ${SCHEMA_VERSION}: use a newer hms`, {
      code: 'STATE_SCHEMA',
      details: { path, version, known: SCHEMA_VERSION },
    });
  }
  if (version === SCHEMA_VERSION) return;
  if (readonly) {
    throw new StateError(`${path}: the state file has schema version ${version}, older than ${SCHEMA_VERSION}; open it once for writing to migrate it`, {
      code: 'STATE_SCHEMA',
      details: { path, version, known: SCHEMA_VERSION },
    });
  }
  for (const step of MIGRATIONS.slice(version)) {
    db.transaction(() => {
      db.exec(step.sql);
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT');
      db.exec('DELETE FROM schema_version');
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(step.version);
    })();
  }
}
