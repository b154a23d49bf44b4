import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './addresses.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('addresses', () => {
  it('reads IPv4 as inet_pton does', () => {
    expect(formatIpv4(parseIpv4('192.0.2.255'))).toBe('192.0.2.255');
    for (const bad of ['192.0.2', '192.0.2.1.1', '192.0.2.256', '01.2.3.4', '1..2.3', '1.2.3.', 'a.b.c.d', '']) {
      expect(() => parseIpv4(bad), bad).toThrow(/not an IPv4/);
    }
  });

  it('reads every IPv6 text form', () => {
    const cases: [string, string][] = [
      ['::', '00000000000000000000000000000000'],
      ['::1', '00000000000000000000000000000001'],
      ['1::', '00010000000000000000000000000000'],
      ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'],
      ['2001:DB8:0:0:0:0:0:2', '20010db8000000000000000000000002'],
      ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
      ['1:2:3:4:5:6:1.2.3.4', '00010002000300040005000601020304'],
      ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
      ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ];
    for (const [text, wire] of cases) expect(hex(parseIpv6(text)), text).toBe(wire);
  });

  it('refuses what inet_pton refuses', () => {
    for (const bad of [
      ':',
      ':::',
      '1:::2',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::',
      'g::',
      '1:',
      ':1',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3',
      '1::2:3:4:5:6:7:8',
    ]) {
      expect(isIPv6(bad), bad).toBe(false);
      expect(() => parseIpv6(bad), bad).toThrow(/not an IPv6/);
    }
  });

  it('agrees with node for random addresses in RFC 5952 and full forms (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const text = formatIpv6(b);
        expect(isIPv6(text)).toBe(true);
        expect(hex(parseIpv6(text))).toBe(hex(b));
        const full = Array.from({ length: 8 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(':');
        expect(hex(parseIpv6(full))).toBe(hex(b));
      }),
    );
  });
});
