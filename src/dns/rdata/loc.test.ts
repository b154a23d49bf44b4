import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ValueError, WireFormatError } from '../../common/errors.js';
import { locCodec } from './loc.js';
import { hex, parseWith, unhex } from '../../../test/helpers/rdata.js';
import { ByteWriter } from '../bytes.js';

const parse = (text: string): Uint8Array => parseWith(locCodec, text);

/**
 * Presentation text, its wire form, and the text hms prints. The wire forms were checked
 * with `ldns-read-zone -u LOC` and the printed text with `named-checkzone -D` (BIND 9.18.49).
 */
const CASES: [string, string, string][] = [
  // RFC 1876 section 4 examples
  ['42 21 54 N 71 06 18 W -24m 30m', '0033161389172dd070be15f000988d20', '42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m'],
  ['42 21 43.952 N 71 5 6.344 W -24m 1m 200m', '001224138917069070bf2dd800988d20', '42 21 43.952 N 71 5 6.344 W -24.00m 1m 200m 10m'],
  ['52 14 05 N 00 08 50 E 10m', '001216138b3556c88008165000989a68', '52 14 5.000 N 0 8 50.000 E 10.00m 1m 10000m 10m'],
  ['32 7 19 S 116 2 25 E 10m', '00121613791b7d2898e6486800989a68', '32 7 19.000 S 116 2 25.000 E 10.00m 1m 10000m 10m'],
  ['42 21 28.764 N 71 00 51.617 W -44m 2000m', '002516138916cb3c70c310df00988550', '42 21 28.764 N 71 0 51.617 W -44.00m 2000m 10000m 10m'],
  // BIND's own form reads back unchanged
  ['52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m', '001216138b3cf018810cbce0009895b8', '52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m'],
  ['0 N 0 E 0', '00121613800000008000000000989680', '0 0 0.000 N 0 0 0.000 E 0.00m 1m 10000m 10m'],
  ['90 S 180 W -100000 90000000m 0.05m 0.5m', '009950516cb0270059604e0000000000', '90 0 0.000 S 180 0 0.000 W -100000.00m 90000000m 0.05m 0.50m'],
  ['90 N 180 E 42849672.95m 0 0.01 15m', '00001013934fd900a69fb200ffffffff', '90 0 0.000 N 180 0 0.000 E 42849672.95m 0.00m 0.01m 10m'],
  // sizes that are not a mantissa and a power of ten are truncated, as BIND and RFC 1876 do
  ['1 2 3.4 S 5 6 7.89 W 1.5m 1234m 9.99m 0.99m', '001592917fc72f787ee7ba6e00989716', '1 2 3.400 S 5 6 7.890 W 1.50m 1000m 9m 0.90m'],
];

describe('LOC codec', () => {
  for (const [text, wire, printed] of CASES) {
    it(`reads and prints ${text}`, () => {
      const rdata = parse(text);
      expect(hex(rdata)).toBe(wire);
      expect(locCodec.format(rdata)).toBe(printed);
      expect(hex(parse(printed))).toBe(wire);
    });
  }

  it('defaults size to 1m, horizontal precision to 10000m and vertical precision to 10m', () => {
    const b = parse('10 N 20 E 30');
    expect([b[0], b[1], b[2], b[3]]).toEqual([0, 0x12, 0x16, 0x13]);
    expect(hex(parse('10 N 20 E 30 2m'))).toBe(`0022${hex(b).slice(4)}`);
    expect(hex(parse('10 N 20 E 30 1m 10000m 10m'))).toBe(hex(b));
  });

  it('encodes sizes as mantissa and exponent in centimetres', () => {
    const size = (s: string): number => parse(`0 N 0 E 0 ${s}`)[1]!;
    expect(size('0')).toBe(0x00);
    expect(size('0.01m')).toBe(0x10);
    expect(size('0.05')).toBe(0x50);
    expect(size('0.5m')).toBe(0x51);
    expect(size('1')).toBe(0x12);
    expect(size('20m')).toBe(0x23);
    expect(size('300m')).toBe(0x34);
    expect(size('1234m')).toBe(0x15);
    expect(size('90000000m')).toBe(0x99);
  });

  it('accepts lower-case directions, directions after degrees or minutes, and units on the altitude', () => {
    expect(hex(parse('42 21 n 71 w 10m'))).toBe(hex(parse('42 21 0 N 71 0 0.000 W 10.00')));
    expect(locCodec.format(parse('42 21 N 71 W -0.5m'))).toBe('42 21 0.000 N 71 0 0.000 W -0.50m 1m 10000m 10m');
  });

  it('works across parentheses and lines', () => {
    expect(hex(parse('( 52 22 23 N\n 4 53 32 E\n -2m )'))).toBe(hex(parse('52 22 23 N 4 53 32 E -2m')));
  });

  it('round-trips many values (parse, format, parse gives the same bytes)', () => {
    const texts = [
      '0 0 0.001 S 0 0 0.001 W -0.01m',
      '89 59 59.999 N 179 59 59.999 E 42849672.95m',
      '89 59 59.999 S 179 59 59.999 W -99999.99m 0.09m 0.9m 9m',
      '45 30 N 90 15 E 1000 100m 1000m 100000m',
      '12 34 56.7 N 98 7 6.5 W 123.4m 3m 4m 5m',
      '1 S 1 W 1',
      '60 N 30 W 0.1m 0 0 0',
    ];
    for (const t of texts) {
      const a = parse(t);
      const printed = locCodec.format(a);
      expect(hex(parse(printed)), `${t} -> ${printed}`).toBe(hex(a));
      expect(locCodec.format(parse(printed))).toBe(printed);
    }
  });

  it('round-trips any valid wire form exactly (property)', () => {
    const precision = fc.oneof(
      fc.constant(0),
      fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 9 })).map(([m, e]) => (m << 4) | e),
    );
    const wire = fc.tuple(
      precision,
      precision,
      precision,
      fc.integer({ min: 0x80000000 - 90 * 3600000, max: 0x80000000 + 90 * 3600000 }),
      fc.integer({ min: 0x80000000 - 180 * 3600000, max: 0x80000000 + 180 * 3600000 }),
      fc.integer({ min: 0, max: 0xffffffff }),
    );
    fc.assert(
      fc.property(wire, ([s, h, v, lat, lon, alt]) => {
        const w = new ByteWriter(16);
        [0, s, h, v].forEach((x) => w.u8(x));
        [lat, lon, alt].forEach((x) => w.u32(x));
        const b = w.finish();
        expect(hex(parse(locCodec.format(b)))).toBe(hex(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws anything but WireFormatError on arbitrary wire data (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (b) => {
        try {
          const text = locCodec.format(b);
          expect(hex(parse(text))).toBe(hex(b));
        } catch (e) {
          expect(e).toBeInstanceOf(WireFormatError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('leaves canonical form unchanged', () => {
    const b = parse('52 22 23 N 4 53 32 E -2m');
    expect(locCodec.canonical(b)).toBe(b);
  });

  describe('rejects bad presentation input with ValueError', () => {
    const bad: [string, RegExp][] = [
      ['91 N 0 E 0', /LOC latitude: '91' is over 90 degrees/],
      ['90 0 0.001 N 0 E 0', /LOC latitude: .* is over 90 degrees/],
      ['90 1 N 0 E 0', /LOC latitude: .* is over 90 degrees/],
      ['0 N 181 E 0', /LOC longitude: '181' is over 180 degrees/],
      ['0 N 180 0 1 W 0', /LOC longitude: .* is over 180 degrees/],
      ['10 60 N 0 E 0', /LOC latitude: minutes '60' must be below 60/],
      ['10 0 60 N 0 E 0', /LOC latitude: seconds '60' must be below 60/],
      ['10 0 59.9999 N 0 E 0', /LOC latitude: seconds '59.9999' has more than 3 decimals/],
      ['10 0 x N 0 E 0', /LOC latitude: seconds 'x' is not a number/],
      ['10 1.5 N 0 E 0', /LOC latitude: minutes '1.5' is not a whole number/],
      ['-10 N 0 E 0', /LOC latitude: degrees '-10' is not a whole number/],
      ['10 0 0 X 0 E 0', /LOC latitude: 'X' is not a direction \(N or S\)/],
      ['10 E 0 E 0', /LOC latitude: minutes 'E' is not a whole number/],
      ['10 N 0 N 0', /LOC longitude: minutes 'N' is not a whole number/],
      ['10 N 0 E -100000.01m', /LOC altitude: '-100000.01m' is below -100000m/],
      ['10 N 0 E 42849672.96m', /LOC altitude: '42849672.96m' is over 42849672.95m/],
      ['10 N 0 E 1.234m', /LOC altitude: '1.234m' is not a number of metres/],
      ['10 N 0 E 1km', /LOC altitude: '1km' is not a number/],
      ['10 N 0 E 0 90000000.01m', /LOC size: '90000000.01m' is over 90000000m/],
      ['10 N 0 E 0 -1m', /LOC size: '-1m' is not a number of metres/],
      ['10 N 0 E 0 1m 1x', /LOC horizontal precision: '1x'/],
      ['10 N 0 E 0 1m 1m 0.001m', /LOC vertical precision: '0.001m'/],
      ['10 N 0 E 0 1m 1m 1m 1m', /unexpected data after the LOC record \('1m'\)/],
      ['10 N 0 E "0"', /LOC altitude: '0' is not a number/],
      ['10 N 0 E', /missing LOC altitude/],
      ['10 N', /missing LOC longitude degrees/],
      ['10 0 0', /missing LOC latitude direction/],
      ['', /missing LOC latitude degrees/],
    ];
    for (const [text, message] of bad) {
      it(`'${text}'`, () => {
        expect(() => parse(text)).toThrow(ValueError);
        expect(() => parse(text)).toThrow(message);
      });
    }
  });

  describe('rejects malformed wire data with WireFormatError', () => {
    const good = '001216138b3cf018810cbce0009895b8';
    const bad: [string, string, RegExp][] = [
      ['empty', '', /truncated LOC version/],
      ['version 1', `01${good.slice(2)}`, /LOC version 1 is not 0/],
      ['truncated', good.slice(0, 30), /truncated LOC altitude/],
      ['trailing data', `${good}00`, /1 octets of trailing data/],
      ['size exponent over 9', `000a${good.slice(4)}`, /LOC size: 0x0a/],
      ['size mantissa over 9', `00a2${good.slice(4)}`, /LOC size: 0xa2/],
      ['horizontal precision mantissa 0 with exponent', `001205${good.slice(6)}`, /LOC horizontal precision: 0x05/],
      ['vertical precision bad', `0012161f${good.slice(8)}`, /LOC vertical precision: 0x1f/],
      ['latitude beyond 90 degrees', `00121613${(0x80000000 + 90 * 3600000 + 1).toString(16)}${good.slice(16)}`, /LOC latitude/],
      ['latitude far south', `0012161300000000${good.slice(16)}`, /LOC latitude/],
      [
        'longitude beyond 180 degrees',
        `${good.slice(0, 16)}${(0x80000000 - 180 * 3600000 - 1).toString(16).padStart(8, '0')}${good.slice(24)}`,
        /LOC longitude/,
      ],
    ];
    for (const [what, wire, message] of bad) {
      it(what, () => {
        expect(() => locCodec.format(unhex(wire))).toThrow(WireFormatError);
        expect(() => locCodec.format(unhex(wire))).toThrow(message);
      });
    }
  });
});
