import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseType, RRType } from '../types.js';
import { canonicalRdata, checkRdata, formatRdata, parseRdata } from './index.js';
import { RdataTokens } from './tokens.js';
import { hex, TEST_ORIGIN, tokensOf } from '../../../test/helpers/rdata.js';
import { WireFormatError } from '../../common/errors.js';
import { parseIpv6, formatIpv6 } from './addresses.js';
import { decodeBase32Hex, encodeBase32Hex } from './base32hex.js';

function parse(type: string, text: string): Uint8Array {
  return parseRdata(parseType(type)!, new RdataTokens(tokensOf(text)), { origin: TEST_ORIGIN });
}

/** Presentation text, the wire form hms must produce, and the text it must print. */
const CASES: [string, string, string, string][] = [
  ['A', '192.0.2.1', 'c0000201', '192.0.2.1'],
  ['AAAA', '2001:db8::1', '20010db8000000000000000000000001', '2001:db8::1'],
  ['AAAA', '::ffff:192.0.2.1', '00000000000000000000ffffc0000201', '::ffff:192.0.2.1'],
  ['NS', 'ns1', '036e7331076578616d706c6503636f6d00', 'ns1.example.com.'],
  ['CNAME', 'Target.Example.NET.', '06546172676574074578616d706c65034e455400', 'Target.Example.NET.'],
  ['MX', '10 mail', '000a046d61696c076578616d706c6503636f6d00', '10 mail.example.com.'],
  [
    'SOA',
    'ns1 hostmaster 2024010101 1h 15m 30d 300',
    '036e7331076578616d706c6503636f6d000a686f73746d6173746572076578616d706c6503636f6d0078a3f17500000e100000038400278d000000012c',
    'ns1.example.com. hostmaster.example.com. 2024010101 3600 900 2592000 300',
  ],
  ['TXT', '"hello world" "a\\"b" c\\;d \\255', '', '"hello world" "a\\"b" "c;d" "\\255"'],
  ['HINFO', '"PC" Linux', '02504305'.concat('4c696e7578'), '"PC" "Linux"'],
  ['SRV', '0 5 5060 sip', '0000000513c40373697007'.concat('6578616d706c6503636f6d00'), '0 5 5060 sip.example.com.'],
  ['NAPTR', '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .', '', '100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .'],
  ['CAA', '0 issue "letsencrypt.org"', '000569737375656c657473656e63727970742e6f7267', '0 issue "letsencrypt.org"'],
  [
    'TLSA',
    '3 1 1 ( 0C72AC70B745AC19998811B131D662C9\n AC69DBDBE7CB23E5B514B56664C5D3D6 )',
    '0301010c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6',
    '3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6',
  ],
  ['SMIMEA', '3 0 1 ABCD', '030001abcd', '3 0 1 ABCD'],
  ['SSHFP', '4 2 123456789abcdef67890123456789abcdef67890123456789abcdef123456789', '', '4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789'],
  ['URI', '10 1 "ftp://ftp1.example.com/public"', '000a0001667470', '10 1 "ftp://ftp1.example.com/public"'],
  ['OPENPGPKEY', 'AQID BA==', '01020304', 'AQIDBA=='],
  [
    'DS',
    '60485 RSASHA1 1 2BB183AF5F22588179A53B0A98631FAD1A292118',
    'ec45050' + '12bb183af5f22588179a53b0a98631fad1a292118',
    '60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118',
  ],
  ['DNSKEY', '257 3 8 AwEAAQ==', '0101030803010001', '257 3 8 AwEAAQ=='],
  ['RRSIG', 'A 8 3 3600 20240201000000 20240101000000 12345 example.com. AQID', '', 'A 8 3 3600 20240201000000 20240101000000 12345 example.com. AQID'],
  ['NSEC', 'host.example.com. A MX RRSIG NSEC TYPE1234', '', 'host.example.com. A MX RRSIG NSEC TYPE1234'],
  ['NSEC3', '1 1 12 aabbccdd 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG', '', '1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG'],
  ['NSEC3', '1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR', '', '1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR '],
  ['NSEC3PARAM', '1 0 0 -', '01000000' + '00', '1 0 0 -'],
  [
    'ZONEMD',
    '2018031900 1 1 ( FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE )',
    '',
    '2018031900 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE',
  ],
  ['CDS', '0 0 0 00', '0000000000', '0 0 0 00'],
  ['CDNSKEY', '0 3 0 AA==', '0000030000', '0 3 0 AA=='],
  ['PTR', 'host', '', 'host.example.com.'],
  ['DNAME', 'other.net.', '', 'other.net.'],
  ['RP', 'admin.example.com. txt', '', 'admin.example.com. txt.example.com.'],
  ['EUI48', '00-00-5e-00-53-2a', '00005e00532a', '00-00-5e-00-53-2a'],
  ['EUI64', '00-00-5e-ef-10-00-00-2a', '00005eef1000002a', '00-00-5e-ef-10-00-00-2a'],
  ['NID', '10 0014:4fff:ff20:ee64', '000a00144fffff20ee64', '10 0014:4fff:ff20:ee64'],
  ['L32', '10 10.1.2.0', '000a0a010200', '10 10.1.2.0'],
  ['CSYNC', '66 3 A NS AAAA', '', '66 3 A NS AAAA'],
  ['SPF', '"v=spf1 -all"', '', '"v=spf1 -all"'],
  ['DHCID', 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=', '', 'AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA='],
  ['TYPE65534', '\\# 4 0A0B0C0D', '0a0b0c0d', '\\# 4 0A0B0C0D'],
  ['TYPE65535', '\\# 0', '', '\\# 0'],
  ['A', '\\# 4 C0000201', 'c0000201', '192.0.2.1'],
];

describe('RDATA codecs', () => {
  for (const [type, text, wire, printed] of CASES) {
    it(`${type} ${text.slice(0, 40)}: parses, prints and round-trips`, () => {
      const rdata = parse(type, text);
      if (wire !== '' && type !== 'TXT' && type !== 'URI' && type !== 'HINFO' && type !== 'SRV') expect(hex(rdata)).toBe(wire);
      const out = formatRdata(parseType(type)!, rdata);
      expect(out.trim()).toBe(printed.trim());
      const again = parse(type, out);
      expect(hex(again)).toBe(hex(rdata));
    });
  }

  it('TXT keeps every octet, escapes and quotes', () => {
    expect(hex(parse('TXT', '"a\\"b" c\\;d \\255'))).toBe('03612262' + '03633b64' + '01ff');
  });

  it('refuses a bad address, a bad escape and a generic length that disagrees', () => {
    expect(() => parse('A', '192.0.2.256')).toThrow(/not an IPv4/);
    expect(() => parse('A', '192.0.2')).toThrow(/not an IPv4/);
    expect(() => parse('A', '192.0.02.1')).toThrow(/not an IPv4/);
    expect(() => parse('AAAA', '2001:db8:::1')).toThrow(/not an IPv6/);
    expect(() => parse('AAAA', '1:2:3:4:5:6:7:8:9')).toThrow(/not an IPv6/);
    expect(() => parse('TYPE65534', '\\# 5 0A0B0C0D')).toThrow(/length 5 disagrees/);
    expect(() => parse('A', '\\# 3 0A0B0C')).toThrow(/not valid A data/);
    expect(() => parse('MX', '10')).toThrow(/missing exchange/);
    expect(() => parse('MX', '10 a b')).toThrow(/unexpected data/);
    expect(() => parse('TXT', `"${'x'.repeat(256)}"`)).toThrow(/over 255/);
    expect(() => parse('DS', '1 8 2 ABC')).toThrow(/hex/);
    expect(() => parse('DNSKEY', '257 3 8 AwEAA')).toThrow(/base64/);
    expect(() => parse('APL', '1:192.168.32.0/21')).toThrow(/generic form/);
    expect(() => parse('RRSIG', 'A 8 3 3600 20241301000000 20240101000000 1 . AA==')).toThrow(/not a valid time/);
    expect(() => parse('CAA', '0 is-sue "x"')).toThrow(/letters and digits/);
  });

  it('reads RRSIG times of the years 0000 to 0099 as those years, not as 1900 to 1999 (RFC 4034 3.2, serial arithmetic)', () => {
    // found by the fuzz suite: Date.UTC takes a year below 100 as 19yy
    const expiration = (time: string): number => Buffer.from(parse('RRSIG', `A 8 1 60 ${time} 20240101000000 1 . AA==`)).readUInt32BE(8);
    expect(expiration('00500101000000')).toBe(3835213440); // -60589296000 mod 2^32
    expect(expiration('00010101000000')).toBe(2288912640);
    expect(expiration('00991231235959')).toBe(1118082943);
    expect(expiration('19500101000000')).toBe(3663815296);
  });

  it('lowercases only the names RFC 4034 6.2 / RFC 6840 5.1 name', () => {
    const mx = parse('MX', '10 MAIL.Example.COM.');
    expect(Buffer.from(canonicalRdata(RRType.MX, mx)).toString('latin1')).toContain('mail');
    const nsec = parse('NSEC', 'HOST.example.com. A');
    expect(canonicalRdata(RRType.NSEC, nsec)).toBe(nsec);
    const txt = parse('TXT', 'ABC');
    expect(canonicalRdata(RRType.TXT, txt)).toBe(txt);
    // every name of the RDATA, and nothing after the last of them
    const canonical = (type: string, text: string): string =>
      Buffer.from(canonicalRdata(RRType[type as keyof typeof RRType], parse(type, text))).toString('latin1');
    expect(canonical('SOA', 'NS1.Example.COM. HostMaster.Example.COM. 1 2 3 4 5')).toBe(
      Buffer.from(parse('SOA', 'ns1.example.com. hostmaster.example.com. 1 2 3 4 5')).toString('latin1'),
    );
    expect(canonical('SRV', '0 5 5060 SIP.Example.COM.')).toBe(Buffer.from(parse('SRV', '0 5 5060 sip.example.com.')).toString('latin1'));
    // the signature after the signer's name keeps its octets, uppercase ASCII letters included
    const signature = Buffer.from('QUJDREVGR0hJSktMTU5PUA==', 'base64'); // "ABCDEFGHIJKLMNOP"
    const rrsig = canonical('RRSIG', `A 8 3 3600 20261224120000 20261122110000 41290 Example.COM. ${signature.toString('base64')}`);
    expect(rrsig).toContain('\x07example\x03com\x00ABCDEFGHIJKLMNOP');
    const mxRdata = parse('MX', '10 MAIL.Example.COM.');
    expect(() => canonicalRdata(RRType.MX, mxRdata.subarray(0, mxRdata.length - 3))).toThrow(WireFormatError);
  });

  it('reports malformed wire data as WireFormatError', () => {
    expect(checkRdata(RRType.A, Uint8Array.from([1, 2, 3]))).toMatch(/truncated/);
    expect(checkRdata(RRType.MX, Uint8Array.from([0, 1, 0, 9]))).toMatch(/trailing|name/);
    expect(() => formatRdata(RRType.NSEC, Uint8Array.from([0, 0, 1, 0]))).toThrow(WireFormatError);
  });

  it('decoding arbitrary bytes throws nothing but WireFormatError (property)', () => {
    const types = [RRType.A, RRType.MX, RRType.SOA, RRType.TXT, RRType.NSEC, RRType.NSEC3, RRType.RRSIG, RRType.CAA, RRType.DS, RRType.NAPTR];
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 80 }), (type, bytes) => {
        try {
          formatRdata(type, bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(WireFormatError);
        }
      }),
    );
  });

  it('IPv6 text round-trips for random addresses (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(hex(parseIpv6(formatIpv6(b)))).toBe(hex(b));
      }),
    );
  });

  it('base32hex round-trips and matches RFC 4648 section 10', () => {
    expect(encodeBase32Hex(Buffer.from('foobar'))).toBe('CPNMUOJ1E8');
    expect(Buffer.from(decodeBase32Hex('cpnmuoj1e8')).toString()).toBe('foobar');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        expect(hex(decodeBase32Hex(encodeBase32Hex(b)))).toBe(hex(b));
      }),
    );
  });
});
