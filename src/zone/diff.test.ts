import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { smallZone } from '../../test/helpers/zones.js';
import { applyDiffs, diffZones, soaSerial } from './diff.js';
import { printRecord, printZone } from './print.js';
import type { Zone } from './zone.js';

const ORIGIN = Name.parse('example.com.');

const zone = (serial: number, lines: readonly string[]): Zone => smallZone(ORIGIN, serial, lines);

const show = (r: Parameters<typeof printRecord>[0]): string => printRecord(r).replace(/\t(IN\t)?/g, ' ');

/** Every record of a zone in presentation form, in the zone's order. */
function records(z: Zone): string[] {
  return [...printZone(z)];
}

describe('zone diff (RFC 1995 section 4)', () => {
  const v1 = zone(1, ['www 300 IN A 192.0.2.80', 'www 300 IN A 192.0.2.81', 'old 300 IN TXT "gone"', 'mx 300 IN MX 10 mail']);
  const v2 = zone(2, ['www 300 IN A 192.0.2.80', 'www 300 IN A 192.0.2.82', 'new 300 IN TXT "here"', 'mx 600 IN MX 10 mail']);

  it('lists deleted then added records, the SOAs apart, a TTL change as both', () => {
    const d = diffZones(v1, v2);
    expect([soaSerial(d.from.rdata), soaSerial(d.to.rdata)]).toEqual([1, 2]);
    expect(d.deleted.map(show)).toEqual([
      'mx.example.com. 300 MX 10 mail.example.com.',
      'old.example.com. 300 TXT "gone"',
      'www.example.com. 300 A 192.0.2.81',
    ]);
    expect(d.added.map(show)).toEqual(['mx.example.com. 600 MX 10 mail.example.com.', 'new.example.com. 300 TXT "here"', 'www.example.com. 300 A 192.0.2.82']);
  });

  it('finds nothing between a zone and itself, and names that differ only in case are one name', () => {
    const d = diffZones(v1, v1);
    expect([d.deleted.length, d.added.length]).toEqual([0, 0]);
    const upper = zone(1, ['WWW 300 IN A 192.0.2.80', 'www 300 IN A 192.0.2.81', 'OLD 300 IN TXT "gone"', 'mx 300 IN MX 10 MAIL']);
    const e = diffZones(v1, upper);
    expect([e.deleted.length, e.added.length]).toEqual([0, 0]);
  });

  it('applies a chain of diffs to the first version and gets the last, records and SOA alike', () => {
    const v3 = zone(3, ['www 300 IN A 192.0.2.81', 'old 300 IN TXT "gone"', 'mx 300 IN MX 10 mail']);
    const out = applyDiffs(v1, [diffZones(v1, v2), diffZones(v2, v3)], 'test');
    expect(records(out)).toEqual(records(v3));
    expect(soaSerial(out.soa!.records[0]!.rdata)).toBe(3);
  });

  it('refuses diffs that do not belong to the zone: a wrong serial, a delete of a missing record, an add of a present one', () => {
    const d12 = diffZones(v1, v2);
    expect(() => applyDiffs(v2, [d12], 'ixfr')).toThrow(/ixfr: a diff starts at serial 1, the zone is at 2/);
    const other = zone(1, ['www 300 IN A 192.0.2.80']);
    expect(() => applyDiffs(other, [d12], 'ixfr')).toThrow(/ixfr: deletes (mx|old|www)\.example\.com\.\/\w+, which the zone does not hold/);
    const twice = zone(1, ['www 300 IN A 192.0.2.80', 'www 300 IN A 192.0.2.81', 'old 300 IN TXT "gone"', 'mx 300 IN MX 10 mail', 'new 300 IN TXT "here"']);
    expect(() => applyDiffs(twice, [d12], 'ixfr')).toThrow(/ixfr: adds new\.example\.com\.\/TXT, which the zone holds already/);
  });

  it('old + diff(old, new) = new for any two zones (property)', () => {
    const line = fc
      .tuple(fc.constantFrom('a', 'b', 'c', 'd.e'), fc.constantFrom(300, 600), fc.integer({ min: 1, max: 6 }))
      .map(([owner, ttl, n]) => `${owner} ${ttl} IN A 192.0.2.${n}`);
    fc.assert(
      fc.property(fc.uniqueArray(line, { maxLength: 12 }), fc.uniqueArray(line, { maxLength: 12 }), (a, b) => {
        // one TTL per RRset, as a zone has
        const tidy = (ls: string[]): string[] =>
          ls.filter((l, k) => !ls.slice(0, k).some((m) => m.split(' ')[0] === l.split(' ')[0] && m.split(' ')[1] !== l.split(' ')[1]));
        const za = zone(10, tidy(a));
        const zb = zone(11, tidy(b));
        expect(records(applyDiffs(za, [diffZones(za, zb)], 'p'))).toEqual(records(zb));
      }),
      { numRuns: 300 },
    );
  });
});
