import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { ValueError, WireFormatError } from '../../common/errors.js';
import { svcbCodec } from './svcb.js';
import { hex, parseWith, unhex } from '../../../test/helpers/rdata.js';
import { ByteWriter } from '../bytes.js';
import { Name } from '../name.js';

const parse = (text: string): Uint8Array => parseWith(svcbCodec, text);
const FOO_COM = '03666f6f076578616d706c6503636f6d00';
const FOO_ORG = '03666f6f076578616d706c65036f726700';

/** RFC 9460 Appendix D: presentation form, wire form, and what hms prints. */
const VECTORS: [string, string, string][] = [
  // D.1 AliasMode
  ['0 foo.example.com.', `0000${FOO_COM}`, '0 foo.example.com.'],
  // D.2 ServiceMode
  ['1 .', '000100', '1 .'],
  ['16 foo.example.com. port=53', `0010${FOO_COM} 0003 0002 0035`, '16 foo.example.com. port=53'],
  ['1 foo.example.com. key667=hello', `0001${FOO_COM} 029b 0005 68656c6c6f`, '1 foo.example.com. key667="hello"'],
  ['1 foo.example.com. key667="hello\\210qoo"', `0001${FOO_COM} 029b 0009 68656c6c6fd2716f6f`, '1 foo.example.com. key667="hello\\210qoo"'],
  [
    '1 foo.example.com. ( ipv6hint="2001:db8::1,2001:db8::53:1" )',
    `0001${FOO_COM} 0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001`,
    '1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1',
  ],
  [
    '1 example.com. ( ipv6hint="2001:db8:122:344::192.0.2.33" )',
    '0001 076578616d706c6503636f6d00 0006 0010 20010db8012203440000 0000c0000221',
    '1 example.com. ipv6hint=2001:db8:122:344::c000:221',
  ],
  [
    '16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1 )',
    `0010${FOO_ORG} 0000 0004 0001 0004 0001 0009 02 6832 05 68332d3139 0004 0004 c0000201`,
    '16 foo.example.org. mandatory=alpn,ipv4hint alpn="h2,h3-19" ipv4hint=192.0.2.1',
  ],
  [
    '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"',
    `0010${FOO_ORG} 0001 000c 08 665c6f6f2c626172 02 6832`,
    '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"',
  ],
  [
    '16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2',
    `0010${FOO_ORG} 0001 000c 08 665c6f6f2c626172 02 6832`,
    '16 foo.example.org. alpn="f\\\\\\\\oo\\\\,bar,h2"',
  ],
];

/** Other inputs: the text hms prints for each (checked against BIND 9.18 and ldns 1.8.3). */
const PRINTED: [string, string][] = [
  ['1 . alpn="h2,h3" port=443 ipv4hint=192.0.2.1,192.0.2.2', '1 . alpn="h2,h3" port=443 ipv4hint=192.0.2.1,192.0.2.2'],
  ['1 . ipv4hint=192.0.2.2 port=443 alpn=h2,h3', '1 . alpn="h2,h3" port=443 ipv4hint=192.0.2.2'],
  ['1 . ech=AEj+DQBEAQAgACBvb2ZiYXJiYXpxdXV4 no-default-alpn alpn=h2', '1 . alpn="h2" no-default-alpn ech=AEj+DQBEAQAgACBvb2ZiYXJiYXpxdXV4'],
  ['1 . ech="AEj+DQBEAQAgACBvb2ZiYXJiYXpxdXV4"', '1 . ech=AEj+DQBEAQAgACBvb2ZiYXJiYXpxdXV4'],
  ['1 dns alpn=h2 dohpath=/dns-query{?dns}', '1 dns.example.com. alpn="h2" dohpath="/dns-query{?dns}"'],
  ['1 . key7="/q{?x,dns}" mandatory=key7', '1 . mandatory=dohpath dohpath="/q{?x,dns}"'],
  ['1 . ohttp', '1 . key8'],
  ['1 . key8 key9 key10=', '1 . key8 key9 key10'],
  ['1 . key65535="a b\\"c" key0=key1 key1=x', '1 . mandatory=alpn alpn="x" key65535="a b\\"c"'],
  ['1 . key65000="\\000\\"\\\\\\\\"', '1 . key65000="\\000\\"\\\\\\\\"'],
  ['1 . alpn="a\\"b,c d,\\255"', '1 . alpn="a\\"b,c d,\\255"'],
  ['1 . alpn=h2\\\\,h3', '1 . alpn="h2\\\\,h3"'],
  ['1 . port="0080"', '1 . port=80'],
  ['1 Target.Example.NET. port=1', '1 Target.Example.NET. port=1'],
  ['65535 @', '65535 example.com.'],
  ['1 . mandatory="port" port=1', '1 . mandatory=port port=1'],
];

describe('SVCB codec', () => {
  describe('RFC 9460 Appendix D vectors', () => {
    for (const [text, wire, printed] of VECTORS) {
      it(text, () => {
        const rdata = parse(text);
        expect(hex(rdata)).toBe(wire.replace(/\s+/g, ''));
        expect(svcbCodec.format(rdata)).toBe(printed);
        expect(hex(parse(printed))).toBe(hex(rdata));
      });
    }
  });

  describe('prints and round-trips', () => {
    for (const [text, printed] of PRINTED) {
      it(text, () => {
        const rdata = parse(text);
        expect(svcbCodec.format(rdata)).toBe(printed);
        expect(hex(parse(printed))).toBe(hex(rdata));
      });
    }
  });

  it('takes the value of key= from a quoted token only when it follows without a space', () => {
    expect(hex(parse('1 . alpn="h2,h3"'))).toBe(hex(parse('1 . alpn=h2,h3')));
    expect(() => parse('1 . alpn= "h2,h3"')).toThrow(/SVCB alpn: missing value/);
    expect(() => parse('1 . key65000= "x"')).toThrow(/unexpected quoted string 'x'/);
    expect(() => parse('1 . "alpn=h2"')).toThrow(/unexpected quoted string 'alpn=h2'/);
  });

  it('leaves the target name alone in canonical form', () => {
    const b = parse('1 Target.Example.NET. alpn=h2');
    expect(svcbCodec.canonical(b)).toBe(b);
  });

  const addr4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
  const addr6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
  const octets = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
  const dohpath = fc.constantFrom('/dns-query{?dns}', '/q{dns}', '/a%20b/{?x,dns:12}', '/é{&dns*}');
  const params = fc.record({
    alpn: fc.option(fc.array(octets(1, 12), { minLength: 1, maxLength: 4 })),
    nda: fc.boolean(),
    port: fc.option(fc.integer({ min: 0, max: 0xffff })),
    ipv4: fc.option(fc.array(addr4, { minLength: 1, maxLength: 3 })),
    ech: fc.option(octets(1, 40)),
    ipv6: fc.option(fc.array(addr6, { minLength: 1, maxLength: 3 })),
    doh: fc.option(dohpath),
    ohttp: fc.boolean(),
    other: fc.dictionary(fc.integer({ min: 9, max: 0xffff }).map(String), octets(0, 20), { maxKeys: 3 }),
    mandatory: fc.boolean(),
  });

  type Params = typeof params extends fc.Arbitrary<infer T> ? T : never;

  function build(p: Params): Uint8Array {
    const kv = new Map<number, Uint8Array>();
    if (p.alpn !== null) kv.set(1, Buffer.concat(p.alpn.map((id) => Buffer.concat([Uint8Array.of(id.length), id]))));
    if (p.nda && p.alpn !== null) kv.set(2, new Uint8Array(0));
    if (p.port !== null) kv.set(3, Uint8Array.of(p.port >> 8, p.port & 0xff));
    if (p.ipv4 !== null) kv.set(4, Buffer.concat(p.ipv4));
    if (p.ech !== null) kv.set(5, p.ech);
    if (p.ipv6 !== null) kv.set(6, Buffer.concat(p.ipv6));
    if (p.doh !== null) kv.set(7, Buffer.from(p.doh, 'utf8'));
    if (p.ohttp) kv.set(8, new Uint8Array(0));
    for (const [k, v] of Object.entries(p.other)) kv.set(Number(k), v);
    const keys = [...kv.keys()].sort((a, b) => a - b);
    if (p.mandatory && keys.length > 0) {
      kv.set(0, Buffer.concat(keys.slice(0, 2).map((k) => Uint8Array.of(k >> 8, k & 0xff))));
    }
    const w = new ByteWriter();
    w.u16(keys.length === 0 ? 0 : 1);
    w.name(Name.parse('svc.Example.net.'));
    for (const k of [...kv.keys()].sort((a, b) => a - b)) {
      w.u16(k);
      w.u16(kv.get(k)!.length);
      w.bytes(kv.get(k)!);
    }
    return w.finish();
  }

  it('round-trips any valid wire form exactly (property)', () => {
    fc.assert(
      fc.property(params, (p) => {
        const b = build(p);
        const text = svcbCodec.format(b);
        expect(hex(parse(text)), text).toBe(hex(b));
      }),
      { numRuns: 1500 },
    );
  });

  it('never throws anything but WireFormatError on arbitrary or mangled wire data (property)', () => {
    const mangled = fc.tuple(params, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat()).map(([p, at, v, cut]) => {
      const b = Uint8Array.from(build(p));
      if (b.length > 0) b[at % b.length] = v;
      return b.subarray(0, b.length - (cut % 3));
    });
    fc.assert(
      fc.property(fc.oneof(mangled, fc.uint8Array({ maxLength: 40 })), (b) => {
        try {
          const text = svcbCodec.format(b);
          expect(hex(parse(text)), text).toBe(hex(b));
        } catch (e) {
          expect(e).toBeInstanceOf(WireFormatError);
        }
      }),
      { numRuns: 4000 },
    );
  });

  describe('rejects bad presentation input with ValueError', () => {
    const bad: [string, RegExp][] = [
      // RFC 9460 Appendix D.3 failure cases
      ['1 foo.example.com. ( key123=abc key123=def )', /SVCB parameter 'key123' appears twice/],
      ['1 foo.example.com. mandatory', /SVCB mandatory: missing value/],
      ['1 foo.example.com. alpn', /SVCB alpn: missing value/],
      ['1 foo.example.com. port', /SVCB port: missing value/],
      ['1 foo.example.com. ipv4hint', /SVCB ipv4hint: missing value/],
      ['1 foo.example.com. ipv6hint', /SVCB ipv6hint: missing value/],
      ['1 foo.example.com. no-default-alpn=abc', /SVCB no-default-alpn: takes no value/],
      ['1 foo.example.com. mandatory=key123', /mandatory lists 'key123', which is not present/],
      ['1 foo.example.com. mandatory=mandatory', /SVCB mandatory: must not list 'mandatory' itself/],
      ['1 foo.example.com. ( mandatory=key123,key123 key123=abc )', /SVCB mandatory: 'key123' is listed twice/],
      // more
      ['1 . mandatory=key0', /must not list 'mandatory' itself/],
      ['1 . mandatory=alpn,', /SVCB mandatory: empty item/],
      ['1 . mandatory=bogus', /SVCB mandatory: 'bogus' is not a known key/],
      ['0 foo.example.com. port=1', /AliasMode \(priority 0\) takes no parameters/],
      ['0 . alpn=h2', /AliasMode/],
      ['1 . alpn=h2 alpn=h3', /'alpn' appears twice/],
      ['1 . key1=h2 alpn=h3', /'alpn' appears twice/],
      ['1 . alpn=', /SVCB alpn: missing value/],
      ['1 . alpn=""', /SVCB alpn: missing value/],
      ['1 . alpn=h2,,h3', /SVCB alpn: empty item in value list/],
      ['1 . alpn=h2,', /SVCB alpn: empty item/],
      ['1 . alpn=a\\\\b', /SVCB alpn: only '\\,' and '\\\\' may be escaped/],
      [`1 . alpn=${'x'.repeat(256)}`, /SVCB alpn: ALPN id over 255 octets/],
      ['1 . alpn=h2\\', /SVCB alpn: dangling backslash/],
      ['1 . no-default-alpn', /'no-default-alpn' needs 'alpn'/],
      ['1 . ohttp=1', /SVCB ohttp: takes no value/],
      ['1 . port=65536', /SVCB port: '65536' is not a port number/],
      ['1 . port=-1', /SVCB port: '-1' is not a port number/],
      ['1 . port=1,2', /SVCB port: '1,2'/],
      ['1 . ipv4hint=192.0.2.1,', /SVCB ipv4hint: empty item/],
      ['1 . ipv4hint=192.0.2.256', /SVCB ipv4hint: '192.0.2.256' is not an IPv4 address/],
      ['1 . ipv4hint="192.0.2.1, 192.0.2.2"', /SVCB ipv4hint: ' 192.0.2.2' is not an IPv4 address/],
      ['1 . ipv6hint=2001:db8::1::2', /SVCB ipv6hint: '2001:db8::1::2' is not an IPv6 address/],
      ['1 . ipv6hint=192.0.2.1', /SVCB ipv6hint/],
      ['1 . ech', /SVCB ech: missing value/],
      ['1 . ech=AAA', /SVCB ech: 'AAA' is not valid base64/],
      ['1 . ech="AEj+ DQBE"', /SVCB ech: .* is not valid base64/],
      ['1 . dohpath=/dns-query', /SVCB dohpath: '\/dns-query' has no 'dns' template variable/],
      ['1 . dohpath=dns-query{?dns}', /SVCB dohpath: .* must start with '\/'/],
      ['1 . key7=""', /SVCB dohpath: .* must start with '\/'/],
      ['1 . dohpath=/q{?dns', /unterminated or malformed template expression/],
      ['1 . dohpath=/q{?dnsx}', /no 'dns' template variable/],
      ['1 . dohpath=/q{=dns}', /reserved template operator/],
      ['1 . dohpath=/q{?dns}%4', /bad percent-encoding/],
      ['1 . dohpath=/q{?dns}\\255', /is not UTF-8/],
      ['1 . dohpath=/q{?dns:0}', /bad prefix length/],
      ['1 . Alpn=h2', /SVCB parameter key: 'Alpn' is not a known key/],
      ['1 . key01=a', /'key01' is not a known key or keyNNNNN/],
      ['1 . key65536=a', /'key65536' is not a known key/],
      ['1 . foo=bar', /'foo' is not a known key/],
      ['65536 .', /SVCB priority: '65536' is not a number from 0 to 65535/],
      ['x .', /SVCB priority: 'x'/],
      ['1', /missing SVCB target name/],
      ['', /missing SVCB priority/],
    ];
    for (const [text, message] of bad) {
      it(`'${text.slice(0, 60)}'`, () => {
        expect(() => parse(text)).toThrow(ValueError);
        expect(() => parse(text)).toThrow(message);
      });
    }
  });

  describe('rejects malformed wire data with WireFormatError', () => {
    const t = '0001 00'; // priority 1, target '.'
    const bad: [string, string, RegExp][] = [
      ['empty', '', /truncated SVCB priority/],
      ['truncated target name', '0001 03666f', /name runs past|label runs past/],
      ['compression pointer in the target', '0001 c00c', /compression pointer/],
      ['truncated key', `${t} 00`, /truncated SVCB parameter key/],
      ['truncated length', `${t} 0003 00`, /truncated SVCB parameter length/],
      ['truncated value', `${t} 0003 0002 01`, /truncated SVCB port value/],
      ['keys out of order', `${t} 0003 0002 0035 0001 0003 026832`, /not in strictly increasing order \(alpn after port\)/],
      ['duplicate key', `${t} 0003 0002 0035 0003 0002 0035`, /not in strictly increasing order/],
      ['port not 2 octets', `${t} 0003 0003 000035`, /SVCB port: length 3 is not 2/],
      ['port empty', `${t} 0003 0000`, /SVCB port: length 0 is not 2/],
      ['ipv4hint not a multiple of 4', `${t} 0004 0005 c000020101`, /SVCB ipv4hint: length 5 is not a positive multiple of 4/],
      ['ipv4hint empty', `${t} 0004 0000`, /SVCB ipv4hint: length 0/],
      ['ipv6hint not a multiple of 16', `${t} 0006 0004 20010db8`, /SVCB ipv6hint: length 4/],
      ['mandatory lists itself', `${t} 0000 0002 0000`, /SVCB mandatory: lists 'mandatory' itself/],
      ['mandatory odd length', `${t} 0000 0003 000300 0003 0002 0035`, /SVCB mandatory: length 3/],
      ['mandatory empty', `${t} 0000 0000`, /SVCB mandatory: length 0/],
      ['mandatory not increasing', `${t} 0000 0004 0004 0003 0003 0002 0035 0004 0004 c0000201`, /mandatory: keys are not in strictly increasing order/],
      ['mandatory key missing', `${t} 0000 0002 0003`, /mandatory lists 'port', which is not present/],
      ['alpn empty', `${t} 0001 0000`, /SVCB alpn: empty/],
      ['alpn empty id', `${t} 0001 0004 026832 00`, /SVCB alpn: empty ALPN id/],
      ['alpn id past the value', `${t} 0001 0003 036832`, /SVCB alpn: ALPN id runs past the value/],
      ['no-default-alpn with a value', `${t} 0001 0003 026832 0002 0001 00`, /SVCB no-default-alpn: value must be empty/],
      ['no-default-alpn without alpn', `${t} 0002 0000`, /'no-default-alpn' needs 'alpn'/],
      ['ohttp with a value', `${t} 0008 0001 00`, /SVCB ohttp: value must be empty/],
      ['ech empty', `${t} 0005 0000`, /SVCB ech: empty/],
      ['dohpath without dns', `${t} 0007 0002 2f71`, /SVCB dohpath: has no 'dns' template variable/],
      ['dohpath not UTF-8', `${t} 0007 0008 ${Buffer.from('/{?dns}').toString('hex')}ff`, /SVCB dohpath: is not UTF-8/],
      ['AliasMode with parameters', '0000 00 0003 0002 0035', /AliasMode \(priority 0\) takes no parameters/],
    ];
    for (const [what, wire, message] of bad) {
      it(what, () => {
        expect(() => svcbCodec.format(unhex(wire))).toThrow(WireFormatError);
        expect(() => svcbCodec.format(unhex(wire))).toThrow(message);
      });
    }
  });
});
