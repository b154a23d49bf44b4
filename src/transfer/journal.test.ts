import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { smallZone } from '../../test/helpers/zones.js';
import { applyDiffs, soaSerial, type ZoneDiff } from '../zone/diff.js';
import { printRecord } from '../zone/print.js';
import type { Zone } from '../zone/zone.js';
import { Journal, type JournalEvent } from './journal.js';

const ORIGIN = Name.parse('example.com.');

/** Version `serial` of a small zone: one TXT record per version so that each step has a diff. */
const version = (serial: number): Zone => smallZone(ORIGIN, serial, [`v 300 IN TXT "version ${serial}"`]);
const orgVersion = (serial: number): Zone => smallZone('example.org.', serial, [`v 300 IN TXT "${serial}"`]);

/** A diff in presentation form, to compare diffs read back with those written. */
function text(d: ZoneDiff): string[] {
  return [d.from, ...d.deleted, d.to, ...d.added].map(printRecord);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-journal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(events: JournalEvent[] = [], maxVersions = 30): Journal {
  return Journal.open({ file: join(dir, 'example.com.journal'), origin: ORIGIN, maxVersions, log: (e) => events.push(e) });
}

describe('IXFR journal', () => {
  it('keeps the diffs from each version to the next and gives the chain from any serial it reaches', () => {
    const j = open();
    for (let s = 1; s < 5; s++) j.addVersion(version(s), version(s + 1));
    expect(j.serials).toEqual({ oldest: 1, newest: 5 });
    expect(j.diffsFrom(5, 5)).toEqual([]);
    const chain = j.diffsFrom(2, 5)!;
    expect(chain.map((d) => [soaSerial(d.from.rdata), soaSerial(d.to.rdata)])).toEqual([[2, 3], [3, 4], [4, 5]]);
    expect(soaSerial(applyDiffs(version(2), chain, 't').soa!.records[0]!.rdata)).toBe(5);
    expect(j.diffsFrom(0, 5)).toBeUndefined(); // older than the journal
    expect(j.diffsFrom(2, 6)).toBeUndefined(); // the zone served is past the journal
  });

  it('issue 5 item 4: keeps only the configured number of versions', () => {
    const j = open([], 3);
    for (let s = 1; s < 10; s++) j.addVersion(version(s), version(s + 1));
    expect(j.size).toBe(3);
    expect(j.serials).toEqual({ oldest: 7, newest: 10 });
    expect(j.diffsFrom(6, 10)).toBeUndefined();
  });

  it('survives a restart: a new Journal on the same file holds the same diffs, and no temporary file is left', () => {
    const events: JournalEvent[] = [];
    const j = open();
    for (let s = 1; s < 4; s++) j.addVersion(version(s), version(s + 1));
    const again = open(events);
    expect(again.serials).toEqual({ oldest: 1, newest: 4 });
    expect(again.diffsFrom(1, 4)!.map(text)).toEqual(j.diffsFrom(1, 4)!.map(text));
    expect(events.map((e) => [e.msg, e.versions])).toEqual([['journal, loaded', 3]]);
    expect(readdirSync(dir)).toEqual(['example.com.journal']);
  });

  it('starts afresh when a version does not follow the newest, and refuses a serial that goes back', () => {
    const events: JournalEvent[] = [];
    const j = open(events);
    j.addVersion(version(1), version(2));
    j.addVersion(version(7), version(8));
    expect(j.serials).toEqual({ oldest: 7, newest: 8 });
    expect(events.at(-1)).toMatchObject({ msg: 'journal, restarted', reason: 'the new version follows serial 7, the journal ends at 2' });
    expect(() => j.addVersion(version(8), version(8))).toThrow(/serial 8 does not follow 8/);
  });

  it('reports a damaged, foreign or unreadable file and starts empty; the next version writes a good one', () => {
    const file = join(dir, 'example.com.journal');
    const j = open();
    for (let s = 1; s < 3; s++) j.addVersion(version(s), version(s + 1));
    const good = readFileSync(file);
    const cases: [string, () => void, RegExp][] = [
      ['flipped octet', () => writeFileSync(file, Buffer.from(good).fill(0x55, 40, 41)), /SHA-256 digest does not match/],
      ['cut short', () => writeFileSync(file, good.subarray(0, good.length - 7)), /SHA-256 digest does not match/],
      ['not a journal', () => writeFileSync(file, 'hello'), /not an hms journal/],
      ['another zone', () => Journal.open({ file, origin: Name.parse('example.org.') }).addVersion(orgVersion(1), orgVersion(2)), /it is the journal of example\.org\./],
    ];
    for (const [what, damage, reason] of cases) {
      damage();
      const events: JournalEvent[] = [];
      const bad = open(events);
      expect(bad.size, what).toBe(0);
      expect(events[0]?.msg, what).toBe('journal, unreadable, starting empty');
      expect(events[0]?.reason, what).toMatch(reason);
      expect(events[0]?.file).toBe(file);
    }
    if (process.getuid?.() !== 0) {
      chmodSync(file, 0o000);
      const events: JournalEvent[] = [];
      expect(open(events).size).toBe(0);
      expect(events[0]?.reason).toBe('EACCES');
      chmodSync(file, 0o600);
    }
    const fresh = open();
    fresh.addVersion(version(5), version(6));
    expect(open().serials).toEqual({ oldest: 5, newest: 6 });
  });

  it('reports a file it cannot write as an IO error and keeps what it had', () => {
    const j = Journal.open({ file: join(dir, 'missing-dir', 'x.journal'), origin: ORIGIN });
    expect(() => j.addVersion(version(1), version(2))).toThrow(/journal .*x\.journal: cannot write \(ENOENT\)/);
    expect(j.size).toBe(0);
  });
});
