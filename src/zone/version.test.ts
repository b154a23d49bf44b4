import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { smallZone } from '../../test/helpers/zones.js';
import { Name } from '../dns/name.js';
import { diffZones, type DiffRecord } from './diff.js';
import { printRecord } from './print.js';
import { changesOf, servedInMemory } from './version.js';

const ORIGIN = Name.parse('example.com.');
const text = (records: readonly DiffRecord[]): string[] => records.map(printRecord).sort();

describe('versions of a zone walked side by side (issue 20 item 2b)', () => {
  it('issue 20 item 2b the merge walk finds what diffZones finds, for any two versions (property)', () => {
    const line = fc
      .tuple(fc.constantFrom('a', 'B', 'c', 'd.e', 'H0'), fc.constantFrom(300, 600), fc.constantFrom('A', 'TXT'), fc.integer({ min: 1, max: 5 }))
      .map(([owner, ttl, type, n]) => `${owner} ${ttl} IN ${type} ${type === 'A' ? `192.0.2.${n}` : `"t${n}"`}`);
    // one TTL per RRset, as a zone has
    const tidy = (ls: readonly string[]): string[] =>
      ls.filter(
        (l, k) =>
          !ls.slice(0, k).some((m) => m.split(' ')[0] === l.split(' ')[0] && m.split(' ')[3] === l.split(' ')[3] && m.split(' ')[1] !== l.split(' ')[1]),
      );
    fc.assert(
      fc.property(fc.uniqueArray(line, { maxLength: 14 }), fc.uniqueArray(line, { maxLength: 14 }), (a, b) => {
        const za = smallZone(ORIGIN, 10, tidy(a));
        const zb = smallZone(ORIGIN, 11, tidy(b));
        const expected = diffZones(za, zb);
        expect(text(changesOf(za, zb, 'deleted'))).toEqual(text(expected.deleted));
        expect(text(changesOf(za, zb, 'added'))).toEqual(text(expected.added));
      }),
      { numRuns: 300 },
    );
  });

  it('issue 20 item 2b a Zone held in memory serves as a version: serial, DNSKEYs, earliest expiration', () => {
    const z = smallZone(ORIGIN, 9, [
      '@ 3600 IN DNSKEY 257 3 8 AwEAAQ==',
      'www 300 IN A 192.0.2.9',
      'www 300 IN RRSIG A 8 3 300 20261220000000 20261201000000 12345 example.com. AAECAwQFBgcICQ==',
    ]);
    const v = servedInMemory(z);
    expect([v.serial, v.dnskeys.length, v.expires, v.recordCount]).toEqual([9, 1, Date.UTC(2026, 11, 20) / 1000, z.recordCount]);
    expect(v.get(Name.parse('www.example.com.'))?.rrsets.map((s) => s.type)).toEqual([1, 46]);
  });
});
