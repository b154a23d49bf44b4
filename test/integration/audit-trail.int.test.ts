import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditSink, createLogger } from '../../src/audit/logger.js';
import { defaultCheckpointPath } from '../../src/config/audit.js';
import { parseConfig } from '../../src/config/config.js';
import { chainAuditRecord, type AuditRecord } from '../../src/enforcer/audit-chain.js';
import { openStateForWriting } from '../../src/service/audit-outputs.js';
import type { AuditDbRow } from '../../src/storage/rows.js';
import { StateStore, type ZoneRow } from '../../src/storage/state.js';
import { hms } from './helpers/run.js';

const T0 = 1_750_000_000;
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

let dir: string;
let file: string;
let checkpoint: string;
let logFile: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-audit-'));
  file = join(dir, 'state', 'hms.db');
  checkpoint = defaultCheckpointPath(file);
  logFile = join(dir, 'log', 'hms.log');
  mkdirSync(join(dir, 'log'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Six audit records, each with its checkpoint line and its log line. */
function populate(): void {
  const store = StateStore.open(file, { checkpoint, auditSink: auditSink(createLogger({ destination: logFile })) });
  store.addZone(ZONE, { actor: 'alice', ticket: 'CHG-1', at: T0 });
  for (let i = 1; i <= 5; i++) store.updateZone(ZONE.name, { lastSerial: 2025010100 + i }, { actor: 'hms', at: T0 + i * 3600 });
  store.close();
}

/** What someone who can write the state file does: edit record `seq` and recompute every later hash. */
function rewriteWithRecomputedHashes(seq: number, actor: string): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  const rows = db.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditDbRow[];
  let prev: AuditRecord | null = null;
  const update = db.prepare('UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?');
  db.transaction(() => {
    for (const row of rows) {
      const input = {
        at: row.at,
        actor: row.seq === seq ? actor : row.actor,
        action: row.action,
        zone: row.zone,
        ticket: row.ticket,
        comment: row.comment,
        before: JSON.parse(row.before_json) as unknown,
        after: JSON.parse(row.after_json) as unknown,
      };
      const record: AuditRecord = chainAuditRecord(input, prev);
      update.run(record.actor, record.prevHash, record.hash, row.seq);
      prev = record;
    }
  })();
  db.close();
}

function chainAloneVerifies(): boolean {
  const store = StateStore.open(file, { readonly: true });
  try {
    return store.verifyAudit().ok;
  } finally {
    store.close();
  }
}

describe('the audit checkpoint', () => {
  it("DP-2.4d gets a synced line per committed record, 0640, outside the state's folder", () => {
    populate();
    expect(checkpoint).toBe(join(dir, 'state-audit', 'hms.db.checkpoint'));
    expect(statSync(checkpoint).mode & 0o777).toBe(0o640);
    const store = StateStore.open(file, { readonly: true });
    const lines = readFileSync(checkpoint, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(
      store.auditLog().map((r) => ({ seq: r.seq, at: new Date(r.at * 1000).toISOString().replace('.000Z', 'Z'), hash: r.hash })),
    );
    store.close();
  });

  it('DP-2.4d gets nothing for a transaction that rolled back, and is appended to, never rewritten', () => {
    populate();
    const before = readFileSync(checkpoint, 'utf8');
    const store = StateStore.open(file, { checkpoint });
    expect(() =>
      store.transaction(() => {
        store.updateZone(ZONE.name, { lastSerial: 7 }, { actor: 'hms', at: T0 + 99_999 });
        throw new Error('power cut');
      }),
    ).toThrow('power cut');
    expect(readFileSync(checkpoint, 'utf8')).toBe(before);
    store.updateZone(ZONE.name, { lastSerial: 8 }, { actor: 'hms', at: T0 + 99_999 });
    store.close();
    const after = readFileSync(checkpoint, 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(JSON.parse(after.slice(before.length))).toMatchObject({ seq: 7 });
  });

  it('a checkpoint that cannot be written stops the writer at open, and after a commit says the change is committed', () => {
    mkdirSync(join(dir, 'taken'));
    expect(() => StateStore.open(file, { checkpoint: join(dir, 'taken') })).toThrow(
      expect.objectContaining({ code: 'IO', message: expect.stringContaining(`${join(dir, 'taken')}: cannot open the audit checkpoint (EISDIR)`) as unknown }),
    );
    const store = StateStore.open(file, { checkpoint });
    store.addZone(ZONE, { actor: 'alice', at: T0 });
    rmSync(checkpoint);
    mkdirSync(checkpoint);
    expect(() => store.updateZone(ZONE.name, { lastSerial: 1 }, { actor: 'hms', at: T0 + 1 })).toThrow(
      expect.objectContaining({ code: 'IO', message: expect.stringContaining('audit record(s) 2 are committed, but') as unknown }),
    );
    expect(store.lastAuditSeq()).toBe(2);
    store.close();
  });
});

describe('hms audit verify against the copies outside the state', () => {
  it('DP-2.4d passes an untouched trail and says how far the copies vouch for it', () => {
    populate();
    const r = hms(['audit', 'verify', '--state', file, '--log', logFile]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('audit chain whole: 6 record(s) checked');
    expect(r.stdout).toContain(`outside copies agree up to record 6: ${checkpoint} (6 line(s)), ${logFile} (6 line(s))`);
    expect(r.stdout).not.toContain('warning');
    const json = JSON.parse(hms(['audit', 'verify', '--state', file, '--json']).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      ok: true,
      checked: 6,
      lastSeq: 6,
      confirmedUpTo: 6,
      warnings: [],
      copies: [{ file: checkpoint, kind: 'checkpoint', exists: true, compared: 6 }],
    });
  });

  it('DP-2.4d catches a record rewritten with every later hash recomputed, by the checkpoint', () => {
    populate();
    rewriteWithRecomputedHashes(3, 'mallory');
    expect(chainAloneVerifies()).toBe(true);
    const r = hms(['audit', 'verify', '--state', file]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`audit record 3: its hash`);
    expect(r.stderr).toContain(`in ${checkpoint}:3: this record or one before it was rewritten (the record of 2025-06-15T17:06:40Z)`);
    const json = hms(['audit', 'verify', '--state', file, '--json']);
    expect(json.status).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({
      error: { code: 'AUDIT_TAMPERED', details: { firstBad: { seq: 3, at: T0 + 2 * 3600, where: `${checkpoint}:3` } } },
    });
  });

  it('DP-2.4d catches the same rewrite by the log file when the checkpoint is gone', () => {
    populate();
    rewriteWithRecomputedHashes(2, 'mallory');
    rmSync(checkpoint);
    const r = hms(['audit', 'verify', '--state', file, '--log', logFile]);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`audit record 2: its hash [0-9a-f]{16}\\.\\.\\. differs from [0-9a-f]{16}\\.\\.\\. in ${logFile}:2`));
  });

  it('DP-2.4d catches records cut off the end of the trail', () => {
    populate();
    const db = new Database(file);
    db.exec('DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq > 4');
    db.close();
    expect(chainAloneVerifies()).toBe(true);
    const r = hms(['audit', 'verify', '--state', file]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(
      `audit record 5: the record is in ${checkpoint}:5 but not in the state, which ends at record 4: the trail was cut off (the record of 2025-06-15T19:06:40Z)`,
    );
  });

  it('DP-2.4d names a checkpoint line that was edited into something else', () => {
    populate();
    const text = readFileSync(checkpoint, 'utf8').split('\n');
    text[1] = text[1]!.replace('"seq":2', '"seq":"2"');
    writeFileSync(checkpoint, text.join('\n'));
    const r = hms(['audit', 'verify', '--state', file]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain(`${checkpoint}:2: not a checkpoint line`);
  });

  it('DP-2.4d warns of records newer than every outside copy, and of a missing checkpoint, without failing', () => {
    populate();
    const store = StateStore.open(file);
    store.updateZone(ZONE.name, { lastSerial: 9 }, { actor: 'hms', at: T0 + 86_400 });
    store.close();
    const r = hms(['audit', 'verify', '--state', file]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`warning: ${file}: record 7 is newer than every outside copy (${checkpoint})`);
    renameSync(checkpoint, `${checkpoint}.1`);
    const moved = hms(['audit', 'verify', '--state', file, '--json']);
    expect(moved.status).toBe(0);
    expect(JSON.parse(moved.stdout)).toMatchObject({
      ok: true,
      confirmedUpTo: 0,
      unconfirmed: { from: 1, to: 7 },
      warnings: [`${checkpoint}: no such checkpoint file`, expect.stringContaining('records 1-7 are newer than every outside copy') as unknown],
    });
    // a rotated checkpoint given by name; one that is not there is an error
    expect(hms(['audit', 'verify', '--state', file, '--checkpoint', `${checkpoint}.1`]).stdout).toContain('record 7 is newer');
    expect(hms(['audit', 'verify', '--state', file, '--checkpoint', checkpoint])).toMatchObject({
      status: 1,
      stderr: expect.stringContaining(`${checkpoint}: cannot read it (ENOENT)`) as unknown,
    });
  });

  it("DP-2.4d uses the configuration's checkpoint, written by the writers the configuration opens", () => {
    const config = join(dir, 'hms.yaml');
    writeFileSync(
      config,
      `state: state/hms.db\npolicies: [kasp.yaml]\naccess:\n  auditors: [user:${process.env.USER ?? 'root'}, user:root]\naudit:\n  checkpoint: log/audit.checkpoint\n`,
    );
    const parsed = parseConfig(readFileSync(config, 'utf8'), config);
    const store = openStateForWriting(parsed);
    store.addZone(ZONE, { actor: 'alice', at: T0 });
    store.close();
    expect(readFileSync(join(dir, 'log', 'audit.checkpoint'), 'utf8')).toContain('"seq":1');
    const r = hms(['audit', 'verify', '--config', config]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`outside copies agree up to record 1: ${join(dir, 'log', 'audit.checkpoint')} (1 line(s))`);
  });
});

describe('DP-2.4e audit records to syslog through logger(1)', () => {
  it.each(['udp', 'tcp'] as const)(
    'sends seq and hash to a syslog server by %s, and verify reads the syslog lines',
    async (protocol) => {
      const received: string[] = [];
      let heardBoth: () => void = () => {};
      const heard = new Promise<void>((resolve) => {
        heardBoth = resolve;
      });
      const take = (lines: string[]): void => {
        received.push(...lines);
        if (received.length >= 2) heardBoth();
      };
      // a syslog server on loopback: each datagram a line (UDP), or newline-framed lines (TCP)
      let port: number;
      let stop: () => void;
      if (protocol === 'udp') {
        const socket = createSocket('udp4').on('message', (m) => take([m.toString('utf8')]));
        await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
        port = socket.address().port;
        stop = () => socket.close();
      } else {
        const server = createServer((c) => c.setEncoding('utf8').on('data', (d: string) => take(d.split('\n').filter((l) => l !== ''))));
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        port = (server.address() as AddressInfo).port;
        stop = () => server.close();
      }
      const config = parseConfig(
        `state: ${file}\npolicies: [kasp.yaml]\naudit:\n  checkpoint: ${checkpoint}\n  syslog: { server: "127.0.0.1:${port}", protocol: ${protocol} }\n`,
        join(dir, 'hms.yaml'),
      );
      const warnings: string[] = [];
      const store = openStateForWriting(config, undefined, (m) => warnings.push(m));
      store.addZone(ZONE, { actor: 'alice', at: T0, comment: 'pin 7f3q-1234-zz never leaves in a message' });
      store.updateZone(ZONE.name, { lastSerial: 1 }, { actor: 'hms', at: T0 + 60 });
      const records = store.auditLog();
      store.close();
      try {
        await Promise.race([
          heard,
          new Promise((_, reject) => setTimeout(() => reject(new Error(`syslog heard ${received.length} of 2 lines in 10 s: ${warnings.join('; ')}`)), 10_000)),
        ]);
      } finally {
        stop();
      }
      expect(warnings).toEqual([]);
      const sorted = [...received].sort();
      for (const [i, r] of records.entries()) {
        expect(sorted[i]).toContain('hms-audit');
        expect(sorted[i]).toContain(`audit seq=${r.seq} hash=${r.hash} at=`);
      }
      expect(received.join('\n')).not.toContain('7f3q-1234-zz');
      const syslogFile = join(dir, 'log', 'syslog');
      writeFileSync(syslogFile, `${received.join('\n')}\n`);
      rmSync(checkpoint);
      expect(hms(['audit', 'verify', '--state', file, '--log', syslogFile]).stdout).toContain(`outside copies agree up to record 2: ${syslogFile} (2 line(s))`);
    },
    20_000,
  );

  it('a syslog server that cannot be reached is reported, and the change stays committed with its checkpoint line', async () => {
    // a port nobody listens on: bind one on loopback, then close it
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const config = parseConfig(
      `state: ${file}\npolicies: [kasp.yaml]\naudit:\n  checkpoint: ${checkpoint}\n  syslog: { server: "127.0.0.1:${port}", protocol: tcp }\n`,
      join(dir, 'hms.yaml'),
    );
    let delivered = 0;
    let failed: (message: string) => void = () => undefined;
    const reported = new Promise<string>((resolve) => (failed = resolve));
    const store = openStateForWriting(
      config,
      undefined,
      (m) => failed(m),
      () => delivered++,
    );
    try {
      store.addZone(ZONE, { actor: 'alice', at: T0 });
      const message = await Promise.race([
        reported,
        new Promise<string>((_, reject) => setTimeout(() => reject(new Error('no syslog failure reported in 10 s')), 10_000)),
      ]);
      expect(message).toMatch(/^audit, syslog: logger\(1\) failed for record 1 \(exit 1\): .*failed to connect/);
      expect(readFileSync(checkpoint, 'utf8')).toContain('"seq":1');
      expect(delivered).toBe(0);
      // the server is back: the next copy is delivered, and said so (the service clears its alarm then)
      const server = createServer((socket) => socket.resume());
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
      try {
        store.updateZone(ZONE.name, { lastSerial: 2 }, { actor: 'alice', at: T0 + 1 });
        const deadline = Date.now() + 10_000;
        while (delivered === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        expect(delivered).toBe(1);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      store.close();
    }
  }, 30_000);
});
