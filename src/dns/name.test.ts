import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Name } from './name.js';
import { WireFormatError } from '../common/errors.js';

const origin = Name.parse('example.com.');

describe('Name', () => {
  it('parses absolute, relative and @ names', () => {
    expect(Name.parse('www', origin).toString()).toBe('www.example.com.');
    expect(Name.parse('@', origin)).toBe(origin);
    expect(Name.parse('.').isRoot).toBe(true);
    expect(Name.parse('a.b.').labels()).toEqual(['a', 'b']);
  });

  it('reads \\. and \\DDD escapes and writes them back', () => {
    const n = Name.parse('a\\.b.c\\032d\\255.', null);
    expect(n.labels()).toEqual(['a.b', 'c d\xff']);
    expect(n.toString()).toBe('a\\.b.c\\032d\\255.');
    expect(Name.parse('\\@\\$x\\(\\)\\;\\".', null).toString()).toBe('\\@\\$x\\(\\)\\;\\".');
  });

  it('refuses bad escapes, empty labels, long labels and long names', () => {
    expect(() => Name.parse('a\\256.', null)).toThrow(/over 255/);
    expect(() => Name.parse('a\\12.', null)).toThrow(/DDD/);
    expect(() => Name.parse('a..b.', null)).toThrow(/empty label/);
    expect(() => Name.parse(`${'x'.repeat(64)}.`, null)).toThrow(/label over 63/);
    expect(Name.parse(`${'x'.repeat(63)}.`, null).length).toBe(65);
    const long = Array.from({ length: 5 }, () => 'y'.repeat(63)).join('.') + '.';
    expect(() => Name.parse(long, null)).toThrow(/over 255/);
    expect(() => Name.parse('rel', null)).toThrow(/no origin/);
  });

  it('compares case-insensitively (ASCII only)', () => {
    expect(Name.parse('WWW.Example.COM.').equals(Name.parse('www.example.com.'))).toBe(true);
    expect(Name.parse('\\192.').equals(Name.parse('\\224.'))).toBe(false);
    expect(Name.parse('WWW.example.com.').toString()).toBe('WWW.example.com.');
  });

  it('orders names canonically (RFC 4034 section 6.1 example)', () => {
    const rfc = [
      'example.',
      'a.example.',
      'yljkjljk.a.example.',
      'Z.a.example.',
      'zABC.a.EXAMPLE.',
      'z.example.',
      '\\001.z.example.',
      '*.z.example.',
      '\\200.z.example.',
    ];
    const shuffled = [...rfc].reverse().map((t) => Name.parse(t));
    shuffled.sort((a, b) => a.compare(b));
    expect(shuffled.map((n) => n.toString())).toEqual(rfc.map((t) => Name.parse(t).toString()));
  });

  it('orders a shorter label before a longer one it prefixes, whatever follows', () => {
    const a = Name.parse('z.a.', null);
    const b = Name.parse('b.a\\000.', null);
    expect(a.compare(b)).toBeLessThan(0);
  });

  it('knows subdomains only at label boundaries', () => {
    expect(Name.parse('a.example.com.').isSubdomainOf(origin)).toBe(true);
    expect(origin.isSubdomainOf(origin)).toBe(true);
    expect(Name.parse('xexample.com.').isSubdomainOf(origin)).toBe(false);
    expect(Name.parse('\\007x\\007example.com.').isSubdomainOf(origin)).toBe(false);
  });

  it('decodes wire names, with pointers only where allowed', () => {
    const msg = Uint8Array.from([3, 0x63, 0x6f, 0x6d, 0, 3, 0x77, 0x77, 0x77, 0xc0, 0]);
    expect(Name.decode(msg, 5, true)).toMatchObject({ end: 11 });
    expect(Name.decode(msg, 5, true).name.toString()).toBe('www.com.');
    expect(() => Name.decode(msg, 5, false)).toThrow(WireFormatError);
    expect(() => Name.decode(Uint8Array.from([0xc0, 0]), 0, true)).toThrow(/loop/);
    expect(() => Name.decode(Uint8Array.from([5, 0x61]), 0)).toThrow(WireFormatError);
  });

  it('Name.end finds where decode ends, and refuses what decode refuses, for any octets (property)', () => {
    const outcome = (f: () => number): string => {
      try {
        return `end ${f()}`;
      } catch (e) {
        return e instanceof WireFormatError ? `error ${e.message}` : `other ${String(e)}`;
      }
    };
    // arbitrary octets, and well-formed names up to and past 255 octets, with a tail after them
    const wellFormed = fc
      .array(fc.uint8Array({ minLength: 1, maxLength: 63 }), { maxLength: 6 })
      .map((labels) => Uint8Array.from([...labels.flatMap((l) => [l.length, ...l]), 0, 7, 7]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), wellFormed), fc.nat(3), (buf, offset) => {
        const limit = Math.max(0, buf.length - (offset % 2));
        expect(outcome(() => Name.end(buf, offset, limit))).toBe(outcome(() => Name.decode(buf.subarray(0, limit), offset, false).end));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips any label bytes through presentation form (property)', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 63 }).map((b) => Buffer.from(b).toString('latin1'));
    fc.assert(
      fc.property(fc.array(label, { minLength: 0, maxLength: 3 }), (labels) => {
        const n = Name.fromLabels(labels);
        const back = Name.parse(n.toString(), null);
        expect(back.wire).toBe(n.wire);
      }),
    );
  });

  it('canonical order agrees with a label-by-label comparison (property)', () => {
    const label = fc.uint8Array({ minLength: 1, maxLength: 4 }).map((b) => Buffer.from(b.map((x) => x % 4)).toString('latin1'));
    const name = fc.array(label, { maxLength: 3 }).map((l) => Name.fromLabels(l));
    const reference = (a: Name, b: Name): number => {
      const la = a
        .labels()
        .reverse()
        .map((l) => l.toLowerCase());
      const lb = b
        .labels()
        .reverse()
        .map((l) => l.toLowerCase());
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        const x = Buffer.from(la[i]!, 'latin1');
        const y = Buffer.from(lb[i]!, 'latin1');
        const c = Buffer.compare(x, y);
        if (c !== 0) return c;
      }
      return la.length - lb.length;
    };
    fc.assert(fc.property(name, name, (a, b) => Math.sign(a.compare(b)) === Math.sign(reference(a, b))));
  });
});
