import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditSink, createLogger } from '../../src/audit/logger.js';
import type { AuditRecord } from '../../src/enforcer/audit-chain.js';
import type { KeyRecord } from '../../src/enforcer/keys.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { StateStore, type PendingKey, type ZoneRow } from '../../src/storage/state.js';
import { hms } from './helpers/run.js';

const T0 = 1_750_000_000;
const ALICE = { actor: 'alice', ticket: 'CHG-1', at: T0 };
const BOB = { actor: 'bob', comment: 'checked the DS at the parent', at: T0 + 60 };

const ZONE: ZoneRow = {
  name: 'example.com.',
  policy: 'default',
  input: 'zones/example.com.zone',
  added: T0,
  saltHex: null,
  saltCreated: null,
  lastSerial: null,
  lastSigned: null,
  insecureSince: null,
  parentServers: [],
};

const KSK: KeyRecord = {
  id: '6b736b2d3031',
  role: 'ksk',
  algorithm: 8,
  bits: 2048,
  keyTag: 40123,
  dnskey: new Uint8Array([1, 1, 3, 8, 0, 255, 7, 42]),
  created: T0,
  publish: T0 + 3600,
  active: T0 + 3600,
  retire: null,
  remove: null,
  dsSeen: T0 + 86_400,
  dsWithdrawn: null,
  successorOf: null,
  compromised: false,
};
const ZSK: KeyRecord = {
  ...KSK,
  id: '7a736b2d3031',
  role: 'zsk',
  bits: 1024,
  keyTag: 1234,
  dsSeen: null,
  successorOf: '7a736b2d3030',
  compromised: true,
  retire: T0 + 90 * 86_400,
  remove: T0 + 100 * 86_400,
};

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-state-'));
  file = join(dir, 'state', 'hms.db');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A store with a zone, two keys, a request and its approval: eight audit records. */
function populated(): StateStore {
  const store = StateStore.open(file);
  store.addZone(ZONE, ALICE);
  store.putKey(ZONE.name, KSK, ALICE);
  store.putKey(ZONE.name, ZSK, ALICE);
  store.updateZone(ZONE.name, { lastSerial: 2025010101, lastSigned: T0 + 10 }, { actor: 'hms', at: T0 + 10 });
  const id = store.addRequest(
    { zone: ZONE.name, kind: 'ds-seen', keyTag: KSK.keyTag, payload: { keyId: KSK.id }, requestedBy: 'alice', requestedAt: T0 + 20, ticket: 'CHG-2' },
    { ...ALICE, at: T0 + 20 },
  );
  store.approveRequest(id, 'bob', T0 + 60, BOB);
  return store;
}

/** A raw connection, as someone with write access to the file would use it. */
function tamper(sql: string): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
  db.exec(sql);
  db.close();
}

describe('state store', () => {
  it('issue 20: zonesBelow lists the zones under a name, not itself, not a sibling that only ends alike, nor a name whose label holds a dot', () => {
    const store = StateStore.open(file);
    for (const name of ['example.com.', 'a.example.com.', 'b.a.example.com.', 'notexample.com.', 'x\\.example.com.', 'org.'])
      store.addZone({ ...ZONE, name }, ALICE);
    expect(store.zonesBelow('example.com.').map((z) => z.name)).toEqual(['a.example.com.', 'b.a.example.com.']);
    expect(store.zonesBelow('a.example.com.').map((z) => z.name)).toEqual(['b.a.example.com.']);
    expect(store.zonesBelow('EXAMPLE.COM.').map((z) => z.name)).toHaveLength(2);
    expect(store.zonesBelow('.').map((z) => z.name)).toHaveLength(6);
    expect(store.zonesBelow('b.a.example.com.')).toEqual([]);
    store.close();
  });

  it('creates a new file 0600 with WAL, synchronous FULL and the whole schema, and opens it again', () => {
    const store = StateStore.open(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    store.close();
    const db = new Database(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const again = StateStore.open(file);
    expect(again.schemaVersion()).toBe(SCHEMA_VERSION);
    // synchronous and foreign_keys belong to the connection: read them through the store's own
    expect(again.settings()).toEqual({ journalMode: 'wal', synchronous: 2, foreignKeys: true });
    again.close();
  });

  it('migrates a version 1 file to the newest version, keeping its zones and keys; a key may then be unpublished (double-DS)', () => {
    mkdirSync(join(dir, 'state'));
    const db = new Database(file);
    db.exec(MIGRATIONS[0]!.sql);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT; INSERT INTO schema_version VALUES (1);');
    db.prepare('INSERT INTO zones (name, policy, input, added) VALUES (?, ?, ?, ?)').run(ZONE.name, ZONE.policy, ZONE.input, ZONE.added);
    db.prepare(
      `INSERT INTO keys (id, zone, role, algorithm, bits, key_tag, dnskey, created, publish, ds_seen, compromised) VALUES (?, ?, 'ksk', 8, 2048, ?, ?, ?, ?, ?, 0)`,
    ).run(KSK.id, ZONE.name, KSK.keyTag, Buffer.from(KSK.dnskey), KSK.created, KSK.publish, KSK.dsSeen);
    db.close();
    const store = StateStore.open(file);
    expect(store.schemaVersion()).toBe(SCHEMA_VERSION);
    expect(store.revisions('example.com.')).toEqual([]);
    expect(store.pendingKeys('example.com.')).toEqual([]);
    expect(store.getZone(ZONE.name)).toEqual(ZONE);
    expect(store.keys(ZONE.name)).toEqual([{ ...KSK, active: null }]);
    store.putKey(ZONE.name, { ...KSK, id: 'next', publish: null, successorOf: KSK.id, dsSeen: null }, ALICE);
    expect(store.keys(ZONE.name).find((k) => k.id === 'next')!.publish).toBeNull();
    store.updateZone(ZONE.name, { insecureSince: T0 + 5, parentServers: ['127.0.0.1:5353'] }, ALICE);
    expect(store.getZone(ZONE.name)).toMatchObject({ insecureSince: T0 + 5, parentServers: ['127.0.0.1:5353'] });
    store.close();
  });

  it('refuses a file whose schema is newer than the code knows', () => {
    StateStore.open(file).close();
    const db = new Database(file);
    db.exec(`UPDATE schema_version SET version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => StateStore.open(file)).toThrow(
      expect.objectContaining({ code: 'STATE_SCHEMA', message: expect.stringContaining(`schema version ${SCHEMA_VERSION + 1}`) as unknown }),
    );
  });

  it('refuses to open a missing file read-only instead of making one', () => {
    expect(() => StateStore.open(file, { readonly: true })).toThrow(expect.objectContaining({ code: 'STATE' }));
  });

  it('gives back zones and key records exactly as stored', () => {
    const store = populated();
    expect(store.getZone(ZONE.name)).toEqual({ ...ZONE, lastSerial: 2025010101, lastSigned: T0 + 10 });
    expect(store.listZones().map((z) => z.name)).toEqual([ZONE.name]);
    const keys = store.keys(ZONE.name);
    expect(keys).toStrictEqual([KSK, ZSK]);
    expect(keys[0]!.dnskey).toBeInstanceOf(Uint8Array);
    store.putKey(ZONE.name, { ...ZSK, retire: null }, ALICE);
    expect(store.keys(ZONE.name)[1]!.retire).toBeNull();
    expect(() => store.removeZone(ZONE.name, ALICE)).toThrow(/still has 2 key/);
    store.deleteKey(ZONE.name, KSK.id, ALICE);
    store.deleteKey(ZONE.name, ZSK.id, ALICE);
    store.removeZone(ZONE.name, ALICE);
    expect(store.getZone(ZONE.name)).toBeUndefined();
    expect(store.auditLog().map((r) => r.action)).toEqual([
      'zone.add',
      'key.put',
      'key.put',
      'zone.update',
      'request.add',
      'request.approve',
      'key.put',
      'key.delete',
      'key.delete',
      'zone.remove',
    ]);
    store.close();
  });

  it('DP-4.1 a key recorded as intended is no key until completed: keys() never lists it, completing it is one transaction, dropping it is audited', () => {
    const store = populated();
    const pending: PendingKey = {
      id: 'aa01',
      label: 'hms:example.com.:zsk:aa01',
      role: 'zsk',
      algorithm: 8,
      bits: 1024,
      created: T0 + 70,
      publish: T0 + 70,
      active: null,
      successorOf: ZSK.id,
      reason: 'ZSK roll',
      dsSeen: null,
      formerLabels: null,
    };
    store.addPendingKey(ZONE.name, pending, { ...ALICE, comment: 'ZSK roll' });
    expect(store.pendingKeys(ZONE.name)).toStrictEqual([pending]);
    expect(store.keys(ZONE.name)).toStrictEqual([KSK, ZSK]);
    // an id taken by a key or a pending key is refused
    expect(() => store.addPendingKey(ZONE.name, { ...pending, id: KSK.id }, ALICE)).toThrow(/is recorded already/);
    expect(() => store.addPendingKey(ZONE.name, pending, ALICE)).toThrow(/is recorded already/);
    expect(() => store.removeZone(ZONE.name, ALICE)).toThrow(/still has 2 key/);
    // completing it with a record that cannot be stored leaves it pending
    expect(() => store.completePendingKey(ZONE.name, { ...ZSK, id: pending.id, role: 'nope' as 'zsk' }, ALICE)).toThrow(/CHECK constraint failed/);
    expect(store.pendingKeys(ZONE.name)).toHaveLength(1);
    const made: KeyRecord = {
      ...ZSK,
      id: pending.id,
      keyTag: 999,
      created: pending.created,
      publish: pending.publish,
      active: null,
      retire: null,
      remove: null,
      compromised: false,
    };
    store.completePendingKey(ZONE.name, made, { ...ALICE, comment: 'ZSK roll' });
    expect(store.pendingKeys(ZONE.name)).toEqual([]);
    expect(store.keys(ZONE.name)).toStrictEqual([KSK, ZSK, made]);
    expect(() => store.completePendingKey(ZONE.name, made, ALICE)).toThrow(/has no pending key aa01/);
    store.addPendingKey(ZONE.name, { ...pending, id: 'bb02' }, ALICE);
    store.deleteKey(ZONE.name, KSK.id, ALICE);
    store.deleteKey(ZONE.name, ZSK.id, ALICE);
    store.deleteKey(ZONE.name, made.id, ALICE);
    expect(() => store.removeZone(ZONE.name, ALICE)).toThrow(/has 1 key\(s\) recorded as intended and not settled/);
    store.dropPendingKey(ZONE.name, 'bb02', { ...ALICE, comment: 'not in the token' });
    store.removeZone(ZONE.name, ALICE);
    expect(
      store
        .auditLog()
        .map((r) => r.action)
        .slice(6),
    ).toEqual(['key.pending', 'key.put', 'key.pending', 'key.delete', 'key.delete', 'key.delete', 'key.pending.drop', 'zone.remove']);
    expect(store.auditLog().find((r) => r.action === 'key.pending.drop')).toMatchObject({
      before: { ...pending, id: 'bb02' },
      after: null,
      comment: 'not in the token',
    });
    expect(store.verifyAudit().ok).toBe(true);
    store.close();
  });

  it('writes before and after, ticket and comment into each audit record', () => {
    const store = populated();
    const update = store.auditLog().find((r) => r.action === 'zone.update')!;
    expect(update).toMatchObject({ actor: 'hms', zone: ZONE.name, before: { lastSerial: null }, after: { lastSerial: 2025010101 } });
    const key = store.auditLog().find((r) => r.action === 'key.put')!;
    expect(key).toMatchObject({ actor: 'alice', ticket: 'CHG-1', before: null, after: { id: KSK.id, dnskey: 'AQEDCAD/Byo=' } });
    expect(store.auditLog({ since: T0 + 60 })).toMatchObject([
      { action: 'request.approve', comment: BOB.comment, before: { status: 'pending' }, after: { status: 'approved', decidedBy: 'bob' } },
    ]);
    expect(store.auditLog({ zone: 'other.example.' })).toEqual([]);
    store.close();
  });

  it('DP-4.7d the same person cannot approve their own request; a second person can, once', () => {
    const store = StateStore.open(file);
    store.addZone(ZONE, ALICE);
    const id = store.addRequest(
      { zone: ZONE.name, kind: 'ds-seen', keyTag: 40123, payload: { digest: 'ab12' }, requestedBy: 'alice', requestedAt: T0, ticket: 'CHG-7' },
      ALICE,
    );
    expect(id).toBe('R-0001');
    expect(() => store.approveRequest(id, 'alice', T0 + 1, { actor: 'alice', at: T0 + 1 })).toThrow(
      expect.objectContaining({ code: 'APPROVAL', message: expect.stringContaining('alice made this request and cannot approve it') as unknown }),
    );
    expect(store.getRequest(id)?.status).toBe('pending');
    expect(store.approveRequest('r-oool', 'bob', T0 + 2, BOB)).toMatchObject({
      id,
      status: 'approved',
      decidedBy: 'bob',
      decidedAt: T0 + 2,
      payload: { digest: 'ab12' },
    });
    expect(() => store.approveRequest(id, 'carol', T0 + 3, { actor: 'carol', at: T0 + 3 })).toThrow(/approved already/);
    const other = store.addRequest(
      { zone: ZONE.name, kind: 'ds-withdrawn', keyTag: null, payload: null, requestedBy: 'bob', requestedAt: T0, ticket: 'CHG-8' },
      BOB,
    );
    store.rejectRequest(other, 'alice', T0 + 4, 'wrong key', ALICE);
    expect(store.listRequests({ zone: ZONE.name, status: 'pending' })).toEqual([]);
    expect(store.listRequests({ status: 'rejected' })).toMatchObject([{ id: 'R-0002', reason: 'wrong key', decidedBy: 'alice' }]);
    store.close();
  });

  it('a transaction that throws halfway leaves neither the change nor its audit record (crash simulation)', () => {
    const logged: AuditRecord[] = [];
    const store = StateStore.open(file, { auditSink: (r) => logged.push(r) });
    store.addZone(ZONE, ALICE);
    expect(() =>
      store.transaction(() => {
        store.putKey(ZONE.name, KSK, ALICE);
        store.updateZone(ZONE.name, { lastSerial: 7 }, ALICE);
        throw new Error('power cut');
      }),
    ).toThrow('power cut');
    expect(store.keys(ZONE.name)).toEqual([]);
    expect(store.getZone(ZONE.name)?.lastSerial).toBeNull();
    expect(store.auditLog().map((r) => r.action)).toEqual(['zone.add']);
    // the sink heard only of what committed
    expect(logged.map((r) => r.action)).toEqual(['zone.add']);
    // and the chain goes on from the last committed record
    store.putKey(ZONE.name, KSK, ALICE);
    expect(store.verifyAudit()).toMatchObject({ ok: true, checked: 2 });
    store.close();
  });

  it('a constraint failure inside a change rolls the change back with its audit record', () => {
    const store = StateStore.open(file);
    expect(() => store.putKey('absent.example.', KSK, ALICE)).toThrow(/no zone absent.example./);
    expect(() => store.addZone({ ...ZONE, name: 'Example.COM' }, ALICE)).toThrow(/lowercase/);
    expect(store.auditLog()).toEqual([]);
    store.close();
  });

  it('DP-2.5d an online backup opens with the same data', async () => {
    const store = populated();
    const copy = join(dir, 'backup.db');
    await store.backup(copy);
    const before = { zones: store.listZones(), keys: store.keys(ZONE.name), requests: store.listRequests(), audit: store.auditLog() };
    store.close();
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    const restored = StateStore.open(copy);
    expect({ zones: restored.listZones(), keys: restored.keys(ZONE.name), requests: restored.listRequests(), audit: restored.auditLog() }).toStrictEqual(
      before,
    );
    expect(restored.verifyAudit().ok).toBe(true);
    restored.close();
  });

  it('the pino sink gets each committed record and redacts a pin field', () => {
    const logFile = join(dir, 'audit.log');
    const store = StateStore.open(file, { auditSink: auditSink(createLogger({ destination: logFile })) });
    store.addZone(ZONE, ALICE);
    store.appendAudit({
      at: T0 + 5,
      actor: 'alice',
      action: 'hsm.login',
      zone: null,
      ticket: null,
      comment: null,
      before: null,
      after: { token: 'hms', pin: '123456' },
    });
    store.close();
    const lines = readFileSync(logFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; audit: AuditRecord & { after: Record<string, unknown> } });
    expect(lines.map((l) => [l.msg, l.audit.action, l.audit.seq])).toEqual([
      ['audit', 'zone.add', 1],
      ['audit', 'hsm.login', 2],
    ]);
    expect(lines[0]!.audit.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(lines[1]!.audit.after).toEqual({ token: 'hms', pin: '[redacted]' });
    expect(readFileSync(logFile, 'utf8')).not.toContain('123456');
  });
});

describe('hms audit', () => {
  it('DP-2.4d hms audit verify passes an untouched file', () => {
    populated().close();
    const r = hms(['audit', 'verify', '--state', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('audit chain whole: 6 record(s) checked');
    const json = hms(['audit', 'verify', '--state', file, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, checked: 6, head: { seq: 6 } });
  });

  it.each([
    ['whose actor was edited', "UPDATE audit SET actor = 'mallory' WHERE seq = 3", 3, 'its hash does not match its content'],
    ['after a deleted one', 'DELETE FROM audit WHERE seq = 4', 5, 'record(s) 4 missing before it'],
    ['moved to the end', 'UPDATE audit SET seq = 7 WHERE seq = 2', 3, 'record(s) 2 missing before it'],
  ])('DP-2.4d hms audit verify exits 4 naming the record %s', (_what, sql, seq, reason) => {
    populated().close();
    tamper(sql);
    const r = hms(['audit', 'verify', '--state', file]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`audit record ${seq}: ${reason}`);
    const json = hms(['audit', 'verify', '--state', file, '--json']);
    expect(json.status).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'AUDIT_TAMPERED', details: { firstBad: { seq, reason: expect.stringContaining(reason) as unknown } } },
    });
  });

  it('the audit table refuses a plain UPDATE or DELETE', () => {
    populated().close();
    const db = new Database(file);
    expect(() => db.exec("UPDATE audit SET actor = 'mallory'")).toThrow('append-only');
    expect(() => db.exec('DELETE FROM audit')).toThrow('append-only');
    db.close();
  });

  it('hms audit log lists records by zone and time, as text or JSON', () => {
    populated().close();
    const all = hms(['audit', 'log', '--state', file, '--json']);
    expect(all.status).toBe(0);
    expect((JSON.parse(all.stdout) as AuditRecord[]).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    const since = hms(['audit', 'log', '--state', file, '--zone', 'EXAMPLE.com', '--since', new Date((T0 + 20) * 1000).toISOString()]);
    expect(since.stdout.split('\n').filter((l) => /^\d/.test(l))).toEqual([
      '5 2025-06-15T15:07:00Z alice request.add example.com. ticket CHG-1',
      '6 2025-06-15T15:07:40Z bob request.approve example.com. "checked the DS at the parent"',
    ]);
    expect(hms(['audit', 'log', '--state', file, '--since', 'yesterday']).status).toBe(2);
    expect(hms(['audit', 'log', '--state', join(dir, 'none.db')]).stderr).toContain('no state file');
  });

  it('hms audit finds the state file in $HMS_STATE, else in state/hms.db below the current directory', () => {
    populated().close();
    const saved = process.env.HMS_STATE;
    try {
      delete process.env.HMS_STATE;
      expect(hms(['audit', 'verify'], dir).stdout).toContain('state/hms.db: audit chain whole');
      process.env.HMS_STATE = join(dir, 'elsewhere.db');
      expect(hms(['audit', 'verify'], dir).stderr).toContain('elsewhere.db: no state file');
    } finally {
      if (saved === undefined) delete process.env.HMS_STATE;
      else process.env.HMS_STATE = saved;
    }
  });
});
