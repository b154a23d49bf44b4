import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { smallZone } from '../../test/helpers/zones.js';
import { applyDiffs, soaSerial, type ZoneDiff } from '../zone/diff.js';
import { printRecord } from '../zone/print.js';
import type { Zone } from '../zone/zone.js';
import { Journal, type JournalEvent } from './journal.js';
import { RECORD_HEADER_LENGTH, type StreamedDiff } from './journal-file.js';

const ORIGIN = Name.parse('example.com.');

/** Version `serial` of a small zone: one TXT record per version so that each step has a diff. */
const version = (serial: number): Zone => smallZone(ORIGIN, serial, [`v 300 IN TXT "version ${serial}"`]);
const orgVersion = (serial: number): Zone => smallZone('example.org.', serial, [`v 300 IN TXT "${serial}"`]);

/** The diffs a journal streams, read whole (for comparing). */
function read(diffs: Iterable<StreamedDiff> | undefined): ZoneDiff[] | undefined {
  if (diffs === undefined) return undefined;
  return [...diffs].map((d) => ({ from: d.from, to: d.to, deleted: [...d.deleted], added: [...d.added] }));
}

/** A diff in presentation form, to compare diffs read back with those written. */
function text(d: ZoneDiff): string[] {
  return [d.from, ...d.deleted, d.to, ...d.added].map(printRecord);
}

const serialsOf = (diffs: ZoneDiff[] | undefined): number[][] | undefined => diffs?.map((d) => [soaSerial(d.from.rdata), soaSerial(d.to.rdata)]);

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-journal-'));
  file = join(dir, 'example.com.journal');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function open(events: JournalEvent[] = [], maxVersions = 30, maxBytes?: number): Journal {
  return Journal.open({ file, origin: ORIGIN, maxVersions, ...(maxBytes === undefined ? {} : { maxBytes }), log: (e) => events.push(e) });
}

async function addVersions(j: Journal, from: number, to: number): Promise<void> {
  for (let s = from; s < to; s++) await j.addVersion(version(s), version(s + 1));
}

describe('IXFR journal on disk (issue 17 item 5)', () => {
  it('appends the diff from each version to the next and reads the chain from any serial it reaches', async () => {
    const j = open();
    await addVersions(j, 1, 5);
    expect(j.serials).toEqual({ oldest: 1, newest: 5 });
    expect(read(j.diffsFrom(5, 5))).toEqual([]);
    const chain = read(j.diffsFrom(2, 5))!;
    expect(serialsOf(chain)).toEqual([
      [2, 3],
      [3, 4],
      [4, 5],
    ]);
    expect(soaSerial(applyDiffs(version(2), chain, 't').soa!.records[0]!.rdata)).toBe(5);
    expect(j.diffsFrom(0, 5)).toBeUndefined(); // older than the journal
    expect(j.diffsFrom(2, 6)).toBeUndefined(); // the zone served is past the journal
  });

  it('appends: the file grows by one record per version and is never rewritten whole', async () => {
    const j = open();
    await addVersions(j, 1, 2);
    const first = readFileSync(file);
    await addVersions(j, 2, 4);
    const after = readFileSync(file);
    expect(after.length).toBeGreaterThan(first.length);
    expect(Buffer.compare(after.subarray(0, first.length), first)).toBe(0);
    expect(after.subarray(0, 8).toString('latin1')).toBe('HMSJRNL2');
  });

  it('appends asked one after another without waiting land in that order', async () => {
    const j = open();
    await Promise.all([1, 2, 3].map((s) => j.addVersion(version(s), version(s + 1))));
    expect(serialsOf(read(j.diffsFrom(1, 4)))).toEqual([
      [1, 2],
      [2, 3],
      [3, 4],
    ]);
  });

  it('issue 5 item 4: keeps only the configured number of versions, and the file does not keep growing', async () => {
    const j = open([], 3);
    await addVersions(j, 1, 10);
    expect(j.size).toBe(3);
    expect(j.serials).toEqual({ oldest: 7, newest: 10 });
    expect(j.diffsFrom(6, 10)).toBeUndefined();
    // the dropped diffs are copied away once they outweigh the kept ones
    expect(statSync(file).size).toBeLessThanOrEqual(100 + 2 * j.bytes);
    expect(serialsOf(read(open([], 3).diffsFrom(7, 10)))).toEqual([
      [7, 8],
      [8, 9],
      [9, 10],
    ]);
  });

  it('is bounded by bytes: the oldest diffs go when the kept ones pass the bound; a diff larger than the bound is not kept', async () => {
    const probe = open();
    await addVersions(probe, 1, 2);
    const one = probe.bytes;
    rmSync(file);
    const events: JournalEvent[] = [];
    const j = open(events, 30, Math.floor(one * 2.5));
    await addVersions(j, 1, 8);
    expect(j.size).toBe(2);
    expect(j.serials).toEqual({ oldest: 6, newest: 8 });
    expect(j.bytes).toBeLessThanOrEqual(one * 2.5);
    expect(statSync(file).size).toBeLessThanOrEqual(100 + 2 * Math.floor(one * 2.5));
    const small = open(events, 30, one - 1);
    await small.addVersion(version(8), version(9));
    expect(small.size).toBe(0);
    expect(events.at(-1)).toMatchObject({ msg: 'journal, diff too large, not kept', serial: 9, level: 'warn' });
    expect(open().size).toBe(0);
  });

  it('survives a restart: a new Journal on the same file holds the same diffs, and no temporary file is left', async () => {
    const events: JournalEvent[] = [];
    const j = open([], 2);
    await addVersions(j, 1, 6);
    const again = open(events, 2);
    expect(again.serials).toEqual({ oldest: 4, newest: 6 });
    expect(read(again.diffsFrom(4, 6))!.map(text)).toEqual(read(j.diffsFrom(4, 6))!.map(text));
    expect(events.map((e) => [e.msg, e.versions, e.level])).toEqual([['journal, opened', 2, 'info']]);
    expect(readdirSync(dir)).toEqual(['example.com.journal']);
  });

  it('start reads the record headers only: a damaged body of an old version is found when an IXFR asks for it, and only IXFR from it (or before) falls back', async () => {
    const j = open();
    await addVersions(j, 1, 5);
    const bytes = readFileSync(file);
    // the first record's header follows the file header; flip an octet in the middle of its body
    const headerLength = bytes.indexOf(Buffer.from('DIFF', 'latin1'));
    const bodyLength = bytes.readUInt32BE(headerLength + 12);
    const at = headerLength + RECORD_HEADER_LENGTH + Math.floor(bodyLength / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(file, bytes);
    const events: JournalEvent[] = [];
    const again = open(events);
    expect(again.serials).toEqual({ oldest: 1, newest: 5 }); // open did not read the body
    expect(serialsOf(read(again.diffsFrom(3, 5)))).toEqual([
      [3, 4],
      [4, 5],
    ]);
    expect(events.map((e) => e.msg)).toEqual(['journal, opened']);
    expect(again.diffsFrom(1, 5)).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ msg: 'journal, damaged diff dropped', serial: 2, level: 'warn' });
    expect(again.serials).toEqual({ oldest: 2, newest: 5 });
    expect(serialsOf(read(again.diffsFrom(2, 5)))).toEqual([
      [2, 3],
      [3, 4],
      [4, 5],
    ]);
  });

  it('cuts off a torn append at the tail (a run killed while writing it), logs it, and never serves it', async () => {
    const j = open();
    await addVersions(j, 1, 4);
    const good = readFileSync(file);
    await j.addVersion(version(4), version(5));
    const full = readFileSync(file);
    const cases: [string, Buffer][] = [
      ['body cut short', full.subarray(0, full.length - 5)],
      [
        'header not yet written (zeros where it goes, the body after it)',
        Buffer.concat([good, Buffer.alloc(RECORD_HEADER_LENGTH), full.subarray(good.length + RECORD_HEADER_LENGTH)]),
      ],
      ['a few octets of a header', full.subarray(0, good.length + 7)],
    ];
    for (const [what, bytes] of cases) {
      writeFileSync(file, bytes);
      const events: JournalEvent[] = [];
      const again = open(events);
      expect(again.serials, what).toEqual({ oldest: 1, newest: 4 });
      expect(events[0], what).toMatchObject({ msg: 'journal, torn tail cut off', offset: good.length, bytes: bytes.length - good.length, level: 'warn' });
      expect(statSync(file).size, what).toBe(good.length);
      expect(again.diffsFrom(4, 5), what).toBeUndefined();
      await again.addVersion(version(4), version(5));
      expect(serialsOf(read(open().diffsFrom(3, 5))), what).toEqual([
        [3, 4],
        [4, 5],
      ]);
    }
  });

  it('discards a journal of the earlier whole-file format at start, with a log line; the next version starts a new one', async () => {
    writeFileSync(file, Buffer.concat([Buffer.from('HMSJRNL1', 'latin1'), Buffer.alloc(100, 7)]));
    const events: JournalEvent[] = [];
    const j = open(events);
    expect(j.size).toBe(0);
    expect(events).toMatchObject([{ msg: 'journal, earlier format discarded', level: 'warn' }]);
    await j.addVersion(version(1), version(2));
    expect(open().serials).toEqual({ oldest: 1, newest: 2 });
  });

  it('starts afresh when a version does not follow the newest, and refuses a serial that goes back', async () => {
    const events: JournalEvent[] = [];
    const j = open(events);
    await j.addVersion(version(1), version(2));
    await j.addVersion(version(7), version(8));
    expect(j.serials).toEqual({ oldest: 7, newest: 8 });
    expect(events.at(-1)).toMatchObject({ msg: 'journal, restarted', reason: 'the new version follows serial 7, the journal ends at 2' });
    await expect(j.addVersion(version(8), version(8))).rejects.toThrow(/serial 8 does not follow 8/);
    expect(open().serials).toEqual({ oldest: 7, newest: 8 });
  });

  it('a transfer under way keeps reading its diffs while the journal drops and compacts them', async () => {
    const j = open([], 2);
    await addVersions(j, 1, 4);
    const it = j.diffsFrom(2, 4)![Symbol.iterator]();
    const first = it.next().value as StreamedDiff;
    await addVersions(j, 4, 8);
    expect(j.serials).toEqual({ oldest: 6, newest: 8 });
    const rest = [first, ...{ [Symbol.iterator]: () => it }].map((d) => ({ from: d.from, to: d.to, deleted: [...d.deleted], added: [...d.added] }));
    expect(serialsOf(rest)).toEqual([
      [2, 3],
      [3, 4],
    ]);
  });

  it('reports a damaged, foreign or unreadable file and starts empty; the next version writes a good one', async () => {
    const j = open();
    await addVersions(j, 1, 3);
    const good = readFileSync(file);
    const cases: [string, () => Promise<unknown> | void, RegExp][] = [
      ['flipped octet in the file header', () => writeFileSync(file, Buffer.from(good).fill(0x55, 12, 13)), /file header's checksum does not match/],
      ['cut short', () => writeFileSync(file, good.subarray(0, 12)), /file header is cut short/],
      ['not a journal', () => writeFileSync(file, 'hello, not a journal'), /not an hms journal/],
      [
        'another zone',
        async () => {
          rmSync(file);
          await Journal.open({ file, origin: Name.parse('example.org.') }).addVersion(orgVersion(1), orgVersion(2));
        },
        /it is the journal of example\.org\./,
      ],
    ];
    for (const [what, damage, reason] of cases) {
      await damage();
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
    await fresh.addVersion(version(5), version(6));
    expect(open().serials).toEqual({ oldest: 5, newest: 6 });
  });

  it('reports a file it cannot write as an IO error and keeps what it had', async () => {
    const j = Journal.open({ file: join(dir, 'missing-dir', 'x.journal'), origin: ORIGIN });
    await expect(j.addVersion(version(1), version(2))).rejects.toThrow(/journal .*x\.journal: cannot write \(ENOENT\)/);
    expect(j.size).toBe(0);
  });
});
