import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { smallZone, zoneFromLines } from '../../test/helpers/zones.js';
import { Name } from '../dns/name.js';
import { Journal } from '../transfer/journal.js';
import { diffZones } from '../zone/diff.js';
import { printRecord } from '../zone/print.js';
import type { RRsetView, Zone } from '../zone/zone.js';
import { ServedFile, ServedFileWriter, writeServedFile } from './served-file.js';

const ORIGIN = Name.parse('example.com.');
const STAMP = '1:2:3';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hms-served-'));
  file = join(dir, 'example.com.signed.wire');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Every record of RRsets, in presentation form and in the order given. */
function lines(rrsets: Iterable<RRsetView>): string[] {
  const out: string[] = [];
  for (const set of rrsets) for (const r of set.records) out.push(printRecord({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata }));
  return out;
}

/** Writes zones one after another as the signer hands names out (each zone's names one run), and opens the file. */
function write(runs: readonly Zone[], blockSize = 64 * 1024): ServedFile {
  const w = ServedFileWriter.open(file, ORIGIN, blockSize);
  for (const z of runs) for (const node of z.nodes) w.node(node);
  return w.commit(STAMP);
}

const RRSIG_A = 'A 8 3 300 20270101000000 20261201000000 12345 example.com. AAECAwQFBgcICQ==';

describe('served versions kept compactly on disk (issue 20 item 2b)', () => {
  it('issue 20 item 2b round-trips any zone written as the signer hands it out, in runs, in small blocks: canonical order, lookups, counts (property)', () => {
    // names of the zone, and "hashed" names (as NSEC3 owners) that come after them, in a run of their own
    const label = fc.constantFrom('a', 'B', 'c', 'www', 'Mail', 'x-y', '0p');
    const owner = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));
    const hashed = fc.constantFrom('h0', 'h1', 'h9', 'hv', 'Hq');
    const record = (name: fc.Arbitrary<string>) =>
      fc
        .tuple(name, fc.constantFrom('A', 'TXT', 'MX'), fc.integer({ min: 1, max: 9 }))
        .map(([o, type, n]) =>
          type === 'A' ? `${o} 300 IN A 192.0.2.${n}` : type === 'TXT' ? `${o} 300 IN TXT "t ${n}"` : `${o} 300 IN MX ${n} mx.example.net.`,
        );
    fc.assert(
      fc.property(
        fc.uniqueArray(record(owner), { maxLength: 40 }),
        fc.uniqueArray(record(hashed), { maxLength: 15 }),
        fc.integer({ min: 16, max: 400 }),
        (zoneLines, hashLines, blockSize) => {
          const first = smallZone(ORIGIN, 7, zoneLines);
          const second = zoneFromLines(ORIGIN, hashLines);
          const whole = smallZone(ORIGIN, 7, [...zoneLines, ...hashLines]);
          const served = write([first, second], blockSize);
          const held = served.retain();
          try {
            expect(lines(served.rrsets())).toEqual(lines(whole.rrsets()));
            for (const node of whole.nodes) expect(lines(served.get(node.name)!.rrsets)).toEqual(lines(node.rrsets));
            expect(served.get(Name.parse('absent.example.com.'))).toBeUndefined();
            expect(served.recordCount).toBe(whole.recordCount);
            expect(served.serial).toBe(7);
            expect(lines([served.soa])).toEqual(lines([whole.soa!]));
            served.check();
          } finally {
            held();
            served.release();
          }
        },
      ),
      { numRuns: 100 },
    );
    // each case writes and syncs a file: on a loaded machine that takes its time
  }, 60_000);

  it('issue 20 item 2b keeps the earliest RRSIG expiration, the DNSKEY RDATAs and the SOA in its trailer', () => {
    const z = smallZone(ORIGIN, 3, [
      '@ 3600 IN DNSKEY 257 3 8 AwEAAQ==',
      '@ 3600 IN DNSKEY 256 3 8 AwEAAg==',
      `www 300 IN RRSIG ${RRSIG_A}`,
      'www 300 IN RRSIG A 8 3 300 20261220000000 20261201000000 12345 example.com. AAECAwQFBgcICQ==',
      'www 300 IN A 192.0.2.9',
    ]);
    const served = write([z]);
    try {
      expect(served.expires).toBe(Date.UTC(2026, 11, 20) / 1000);
      expect(served.dnskeys.map((d) => Buffer.from(d).toString('hex'))).toEqual(z.rrset(ORIGIN, 48)!.records.map((r) => Buffer.from(r.rdata).toString('hex')));
      const again = ServedFile.open(file, ORIGIN, STAMP);
      expect([again.serial, again.expires, again.recordCount, again.dnskeys.length]).toEqual([3, served.expires, z.recordCount, 2]);
      again.release();
    } finally {
      served.release();
    }
  });

  it('issue 20 item 2b a damaged block is never served: check() and a walk throw, naming the file and the block', () => {
    const z = smallZone(
      ORIGIN,
      4,
      Array.from({ length: 200 }, (_, i) => `n${i} 300 IN TXT "record number ${i}"`),
    );
    write([z], 512).release();
    const bytes = readFileSync(file);
    bytes[2000] = bytes[2000]! ^ 0xff;
    writeFileSync(file, bytes);
    const damaged = ServedFile.open(file, ORIGIN, STAMP);
    try {
      expect(() => damaged.check()).toThrow(new RegExp(`^${file}: block \\d+ \\(offset \\d+\\) does not match its checksum`));
      expect(() => [...damaged.rrsets()]).toThrow(/does not match its checksum/);
    } finally {
      damaged.release();
    }
  });

  it('issue 20 item 2b a file cut short, of another zone, or mirroring another text file is refused at open, naming the file', () => {
    write([smallZone(ORIGIN, 5)]).release();
    expect(() => ServedFile.open(file, ORIGIN, 'another:stamp:0')).toThrow(new RegExp(`^${file}: it does not mirror the signed text file as it is now`));
    expect(() => ServedFile.open(file, Name.parse('example.org.'))).toThrow(new RegExp(`^${file}: the served version of example.com., not of example.org.`));
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 5));
    expect(() => ServedFile.open(file, ORIGIN)).toThrow(new RegExp(`^${file}: no HMSSEND1 at its end`));
    writeFileSync(file, Buffer.concat([bytes.subarray(0, bytes.length - 30), Buffer.alloc(14), bytes.subarray(bytes.length - 16)]));
    expect(() => ServedFile.open(file, ORIGIN)).toThrow(new RegExp(`^${file}: the trailer does not match its checksum`));
    expect(() => ServedFile.open(join(dir, 'missing.wire'), ORIGIN)).toThrow(/missing\.wire: cannot be read \(ENOENT\)/);
  });

  it('issue 20 item 2b a version replaced by a newer one at the same path stays readable while held, and is closed at its last release', () => {
    const old = write([smallZone(ORIGIN, 1, ['a 300 IN A 192.0.2.1'])]);
    const walk = old.rrsets()[Symbol.iterator]();
    expect(walk.next().done).toBe(false);
    const held = old.retain();
    const next = write([smallZone(ORIGIN, 2, ['b 300 IN A 192.0.2.2'])]);
    old.release();
    // the newer file has taken the name; the old one is read through its open descriptor
    expect(lines(old.rrsets())).toEqual(lines(smallZone(ORIGIN, 1, ['a 300 IN A 192.0.2.1']).rrsets()));
    expect(next.serial).toBe(2);
    held();
    expect(walk.next().done).toBe(false);
    walk.return?.(undefined);
    expect(() => old.retain()).toThrow(/the served version was released/);
    next.release();
  });

  it('issue 20 item 2b a version at rest holds no descriptor; opened again by name, another file in its place is refused', () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    const v = write([smallZone(ORIGIN, 1, ['a 300 IN A 192.0.2.1'])]);
    expect(fds()).toBe(before);
    expect(v.get(Name.parse('a.example.com.'))?.rrsets[0]!.type).toBe(1);
    expect(fds()).toBe(before);
    const held = v.retain();
    expect(fds()).toBe(before + 1);
    held();
    expect(fds()).toBe(before);
    write([smallZone(ORIGIN, 2)]).release();
    expect(() => [...v.rrsets()]).toThrow(new RegExp(`^${file}: another file has taken its place since it was opened`));
    v.release();
  });

  it('issue 20 item 2b the journal diffs two compact versions by a merge walk: the same diff as of the two zones', async () => {
    const v1 = smallZone(ORIGIN, 1, ['a 300 IN A 192.0.2.1', 'b 300 IN TXT "same"', 'c 300 IN MX 10 mx.example.net.', 'h1 300 IN A 192.0.2.7']);
    const v2 = smallZone(ORIGIN, 2, ['a 600 IN A 192.0.2.1', 'b 300 IN TXT "same"', 'd 300 IN A 192.0.2.4', 'h1 300 IN A 192.0.2.8']);
    const one = writeServedFile(join(dir, 'one.wire'), v1, STAMP);
    const two = writeServedFile(join(dir, 'two.wire'), v2, STAMP);
    const journal = Journal.open({ file: join(dir, 'j'), origin: ORIGIN });
    await journal.addVersion(one, two);
    // each diff's sections are read as it is iterated: taken whole before the next
    const read = [...journal.diffsFrom(1, 2)!].length;
    const got = [];
    for (const d of journal.diffsFrom(1, 2)!) got.push({ deleted: [...d.deleted], added: [...d.added] });
    const expected = diffZones(v1, v2);
    expect([read, got.length]).toEqual([1, 1]);
    expect(lines(asSets(got[0]!.deleted))).toEqual(lines(asSets(expected.deleted)));
    expect(lines(asSets(got[0]!.added))).toEqual(lines(asSets(expected.added)));
    one.release();
    two.release();
  });
});

/** Diff records as one-record RRsets (for `lines`). */
function asSets(records: readonly { owner: Name; type: number; ttl: number; rdata: Uint8Array }[]): RRsetView[] {
  return records.map((r) => ({ owner: r.owner, type: r.type, records: [{ ttl: r.ttl, rdata: r.rdata }] }));
}
