import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { ZoneBuilder } from './zone.js';

const origin = Name.parse('example.com.');
const a = (last: number): Uint8Array => Uint8Array.from([192, 0, 2, last]);

describe('ZoneBuilder and Zone', () => {
  it('merges a name that comes back later, whatever its case, into one node', () => {
    const b = new ZoneBuilder(origin);
    b.add({ owner: Name.parse('www', origin), ttl: 60, type: RRType.A, rdata: a(2), file: 'f', line: 1 });
    b.add({ owner: Name.parse('mail', origin), ttl: 60, type: RRType.A, rdata: a(3), file: 'f', line: 2 });
    b.add({ owner: Name.parse('WWW', origin), ttl: 60, type: RRType.A, rdata: a(1), file: 'f', line: 3 });
    b.add({ owner: Name.parse('www', origin), ttl: 60, type: RRType.TXT, rdata: Uint8Array.from([1, 0x78]), file: 'f', line: 4 });
    b.add({ owner: Name.parse('Www', origin), ttl: 60, type: RRType.A, rdata: a(2), file: 'f', line: 5 });
    const zone = b.freeze();
    expect(zone.nodes.map((n) => n.name.toString())).toEqual(['mail.example.com.', 'www.example.com.']);
    const www = zone.get(Name.parse('wWw.example.com.'))!;
    expect(www.rrsets.map((s) => s.type)).toEqual([RRType.A, RRType.TXT]);
    expect(www.rrsets[0]!.records.map((r) => r.line)).toEqual([3, 1]);
    expect(zone.duplicates.map((d) => [d.line, d.first.line])).toEqual([[5, 1]]);
    expect(zone.recordCount).toBe(4);
    expect(zone.get(Name.parse('nothere.example.com.'))).toBeUndefined();
  });

  it('finds every name it holds and no other (property)', () => {
    const label = fc.stringMatching(/^[a-c]{1,3}$/);
    fc.assert(
      fc.property(fc.array(fc.array(label, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 40 }), (names) => {
        const b = new ZoneBuilder(origin);
        names.forEach((labels, i) => b.add({ owner: Name.parse(labels.join('.'), origin), ttl: 1, type: RRType.A, rdata: a(i % 250), file: 'f', line: i }));
        const zone = b.freeze();
        for (const labels of names) expect(zone.get(Name.parse(labels.join('.').toUpperCase(), origin))).toBeDefined();
        expect(zone.get(Name.parse('d', origin))).toBeUndefined();
        for (let i = 1; i < zone.nodes.length; i++) expect(zone.nodes[i - 1]!.name.compare(zone.nodes[i]!.name)).toBeLessThan(0);
      }),
    );
  });
});
