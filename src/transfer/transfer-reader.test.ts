import { describe, expect, it } from 'vitest';
import { smallZone } from '../../test/helpers/zones.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { diffZones, soaRecord, type DiffRecord } from '../zone/diff.js';
import { ixfrRecords } from './ixfr.js';
import { TransferReader } from './transfer-reader.js';

const ORIGIN = Name.parse('example.com.');
const v = [1, 2, 3].map((s) => smallZone(ORIGIN, s, [`v 300 IN TXT "version ${s}"`]));
const soa = (i: number): DiffRecord => soaRecord(v[i]!);
function txt(i: number): DiffRecord {
  const set = v[i]!.rrset(Name.parse('v.example.com.'), RRType.TXT)!;
  return { owner: set.owner, type: set.type, ttl: set.records[0]!.ttl, rdata: set.records[0]!.rdata };
}

function read(asked: number | undefined, messages: DiffRecord[][]): ReturnType<TransferReader['readMessage']>[] {
  const reader = new TransferReader(ORIGIN, asked, 'test');
  return messages.map((m) => reader.readMessage(m));
}

describe('transfer reader (RFC 5936 section 2.2, RFC 1995 section 4)', () => {
  it('completes an incremental IXFR at the closing SOA, in any split into messages', () => {
    const records = [...ixfrRecords(soa(2), [diffZones(v[0]!, v[1]!), diffZones(v[1]!, v[2]!)])];
    for (let at = 1; at < records.length; at++) {
      const reader = new TransferReader(ORIGIN, 1, 'test');
      expect(reader.readMessage(records.slice(0, at))).toBe(false);
      expect(reader.readMessage(records.slice(at))).toBe(true);
      const got = reader.contents!;
      expect(got.kind).toBe('diffs');
      if (got.kind === 'diffs')
        expect(got.diffs.map((d) => [d.deleted.length, d.added.length])).toEqual([
          [1, 1],
          [1, 1],
        ]);
    }
  });

  it('takes the SOA alone as "current" only when it is not newer than the serial asked from', () => {
    expect(read(3, [[soa(2)]])).toEqual([true]);
    expect(read(1, [[soa(2)]])).toEqual([false]);
    expect(read(undefined, [[soa(2)]])).toEqual([false]);
  });

  it('refuses a stream that does not add up', () => {
    expect(() => read(undefined, [[txt(1)]])).toThrow(/test: the response starts with v\.example\.com\.\/TXT, not the zone's SOA/);
    expect(() => read(undefined, [[soa(2), txt(1), soa(1)]])).toThrow(/the closing SOA has serial 2, the first had 3/);
    expect(() => read(undefined, [[soa(2), txt(1), soa(2), txt(2)]])).toThrow(/record 4 comes after the closing SOA/);
    expect(() => read(2, [[soa(2), soa(0), txt(1), soa(2)]])).toThrow(/a diff starts at serial 1, expected 2/);
    const below = { ...soa(1), owner: Name.parse('x.example.com.') };
    expect(() => read(undefined, [[soa(2), below]])).toThrow(/record 2 is an SOA below the apex/);
  });
});
