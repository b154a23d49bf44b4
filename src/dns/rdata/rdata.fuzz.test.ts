import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SignerError, WireFormatError, ZoneSyntaxError } from '../../common/errors.js';
import { Name } from '../name.js';
import { META_TYPES, RRType, typeToString } from '../types.js';
import { textSource } from '../zonefile/memory-source.js';
import { parseZoneFile, type ZoneRecord } from '../zonefile/parser.js';
import { recordPrefixText } from '../zonefile/printer.js';
import { canonicalRdata, checkRdata, codecFor, formatGeneric, formatRdata, parseRdata } from './index.js';
import { RdataTokens } from './tokens.js';
import { GENERIC_TYPES, nameArb, rdataArb, rdataOf, TYPED_RDATA, type RdataPart } from '../../../test/helpers/dns-arbitraries.js';
import { fuzz } from '../../../test/helpers/fuzz.js';
import { hex, TEST_ORIGIN, tokensOf } from '../../../test/helpers/rdata.js';

/**
 * Issue 17: every record type hms knows under property-based fuzzing. For valid RDATA of each
 * type: presentation -> parser gives the same wire; a printed master-file line -> zone parser
 * gives the same record; the RFC 3597 `\#` form gives the same wire. For any octets: the
 * decoder either refuses them with WireFormatError or prints text that reads back to them.
 */

const ALL_TYPES = [...TYPED_RDATA.keys(), ...GENERIC_TYPES];
/** CI: about 1,500 cases per property over the ~80 types; HMS_FUZZ_RUNS shares its count among them. */
const PER_TYPE = { ciRuns: 20, share: 1 / ALL_TYPES.length };
/** The same for the properties of the types with a codec only. */
const PER_TYPED = { ciRuns: 20, share: 1 / TYPED_RDATA.size };

function parseText(type: number, text: string): Uint8Array {
  return parseRdata(type, new RdataTokens(tokensOf(text)), { origin: TEST_ORIGIN });
}

function parseZone(text: string): ZoneRecord[] {
  return [...parseZoneFile(textSource('fuzz.db', text), { origin: Name.parse('fuzz.example.') })];
}

/** Types whose names RFC 4034 section 6.2 lowercases (RFC 6840 section 5.1 takes NSEC out), among those hms has a codec for. */
const LOWERED = new Set<number>([
  RRType.NS,
  RRType.CNAME,
  RRType.SOA,
  RRType.MB,
  RRType.MG,
  RRType.MR,
  RRType.PTR,
  RRType.MINFO,
  RRType.MX,
  RRType.RP,
  RRType.AFSDB,
  RRType.NAPTR,
  RRType.KX,
  RRType.SRV,
  RRType.DNAME,
  RRType.RRSIG,
]);

function lowerName(wire: Uint8Array): Uint8Array {
  const out = Uint8Array.from(wire);
  for (let pos = 0; out[pos] !== 0; pos += out[pos]! + 1) {
    for (let i = pos + 1; i <= pos + out[pos]!; i++) if (out[i]! >= 0x41 && out[i]! <= 0x5a) out[i] = out[i]! | 0x20;
  }
  return out;
}

describe('fuzz: every record type (issue 17)', () => {
  it('has a valid-RDATA arbitrary for every type with a codec, and every mnemonic is typed, generic or meta', () => {
    const withCodec: number[] = [];
    for (let t = 0; t <= 0xffff; t++) if (codecFor(t) !== undefined) withCodec.push(t);
    expect(withCodec.map(typeToString).sort()).toEqual([...TYPED_RDATA.keys()].map(typeToString).sort());
    for (const [mnemonic, t] of Object.entries(RRType)) {
      expect(TYPED_RDATA.has(t) || GENERIC_TYPES.includes(t) || META_TYPES.has(t), mnemonic).toBe(true);
    }
  });

  for (const type of ALL_TYPES) {
    const name = typeToString(type);
    const typed = codecFor(type) !== undefined;

    it(`${name}: wire -> presentation -> wire is the identity, and the printed text is ${typed ? 'its own form' : 'RFC 3597 form'}`, () => {
      fuzz(
        `type ${name}: presentation round trip`,
        [rdataArb(type)],
        (parts) => {
          const rdata = rdataOf(parts);
          expect(checkRdata(type, rdata)).toBeUndefined();
          const text = formatRdata(type, rdata);
          if (!typed) expect(text).toBe(formatGeneric(rdata));
          expect(hex(parseText(type, text))).toBe(hex(rdata));
        },
        PER_TYPE,
      );
    });

    it(`${name}: a printed master-file line reads back as the same record, in its own and in the \\# form`, () => {
      fuzz(
        `type ${name}: zone file round trip`,
        [nameArb, fc.integer({ min: 0, max: 2 ** 31 - 1 }), rdataArb(type)],
        (owner, ttl, parts) => {
          const rdata = rdataOf(parts);
          const ownerText = Name.fromWireString(Buffer.from(owner).toString('latin1')).toString();
          const line = `${recordPrefixText(ownerText, type, ttl)}${formatRdata(type, rdata)}`;
          const generic = `${ownerText} ${ttl} IN TYPE${type} ${formatGeneric(rdata)}`;
          const mnemonic = `${ownerText} IN ${ttl} ${name} ( ${formatGeneric(rdata).replace(/(.{1,10})/g, '$1 ')} )`;
          const records = parseZone(`${line}\n${generic}\n${mnemonic}\n`);
          expect(records).toHaveLength(3);
          for (const r of records) {
            expect(hex(r.owner.toBytes())).toBe(hex(owner));
            expect([r.ttl, r.type]).toEqual([ttl, type]);
            expect(hex(r.rdata)).toBe(hex(rdata));
          }
        },
        PER_TYPE,
      );
    });

    it(`${name}: the canonical form lowercases exactly the names RFC 4034 6.2 / RFC 6840 5.1 name`, () => {
      fuzz(
        `type ${name}: canonical form`,
        [rdataArb(type)],
        (parts) => {
          const lower = typed && LOWERED.has(type);
          const expected = rdataOf(parts.map((p): RdataPart => ('name' in p && lower ? { name: lowerName(p.name) } : p)));
          const canonical = canonicalRdata(type, rdataOf(parts));
          expect(hex(canonical)).toBe(hex(expected));
          expect(hex(canonicalRdata(type, canonical))).toBe(hex(canonical));
        },
        PER_TYPE,
      );
    });

    if (!typed) continue;

    it(`${name}: any octets, and valid RDATA cut, grown or flipped, are refused with WireFormatError or read back exactly`, () => {
      const mutated = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.tuple(rdataArb(type), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('cut', 'grow', 'flip', 'set')).map(([parts, at, v, how]) => {
          const b = rdataOf(parts);
          const i = b.length === 0 ? 0 : at % b.length;
          if (how === 'cut') return b.subarray(0, i);
          if (how === 'grow') return Buffer.concat([b, Uint8Array.of(v)]);
          const c = Uint8Array.from(b);
          if (c.length > 0) c[i] = how === 'flip' ? c[i]! ^ (1 << (v & 7)) : v;
          return c;
        }),
      );
      fuzz(
        `type ${name}: decoder on bad octets`,
        [mutated],
        (b) => {
          let text: string;
          try {
            text = formatRdata(type, b);
          } catch (e) {
            expect(e).toBeInstanceOf(WireFormatError);
            expect(checkRdata(type, b)).toBeTypeOf('string');
            expect(() => parseText(type, formatGeneric(b))).toThrow(/generic RDATA is not valid/);
            return;
          }
          expect(checkRdata(type, b)).toBeUndefined();
          expect(hex(parseText(type, text))).toBe(hex(b));
          expect(hex(parseText(type, formatGeneric(b)))).toBe(hex(b));
          try {
            expect(canonicalRdata(type, b)).toHaveLength(b.length);
          } catch (e) {
            expect(e).toBeInstanceOf(SignerError);
          }
        },
        PER_TYPED,
      );
    });
  }

  it('reads every RRSIG time YYYYMMDDHHmmSS of the years 0000 to 9999 as its seconds since 1970 modulo 2^32', () => {
    /** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
    const days = (y: number, m: number, d: number): number => {
      const yy = m <= 2 ? y - 1 : y;
      const era = Math.floor(yy / 400);
      const yoe = yy - era * 400;
      const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
      return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
    };
    const monthDays = (y: number, m: number): number =>
      m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31;
    const time = fc
      .record({
        y: fc.integer({ min: 0, max: 9999 }),
        m: fc.integer({ min: 1, max: 12 }),
        d: fc.integer({ min: 1, max: 31 }),
        h: fc.integer({ min: 0, max: 23 }),
        mi: fc.integer({ min: 0, max: 59 }),
        s: fc.integer({ min: 0, max: 59 }),
      })
      .map((t) => ({ ...t, d: Math.min(t.d, monthDays(t.y, t.m)) }));
    const pad = (v: number, n: number): string => String(v).padStart(n, '0');
    fuzz(
      'RRSIG time text',
      [time],
      ({ y, m, d, h, mi, s }) => {
        const text = `${pad(y, 4)}${pad(m, 2)}${pad(d, 2)}${pad(h, 2)}${pad(mi, 2)}${pad(s, 2)}`;
        const seconds = days(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
        const rdata = parseText(RRType.RRSIG, `A 8 1 60 ${text} 20240101000000 1 . AA==`);
        expect(Buffer.from(rdata).readUInt32BE(8), text).toBe(((seconds % 2 ** 32) + 2 ** 32) % 2 ** 32);
      },
      { ciRuns: 300 },
    );
  });

  it('refuses every meta-type in a zone file, in its own and in the \\# form', () => {
    for (const t of META_TYPES) {
      for (const line of [`a 60 IN ${typeToString(t)} \\# 0`, `a 60 IN TYPE${t} \\# 1 00`]) {
        expect(() => parseZone(`${line}\n`), line).toThrow(ZoneSyntaxError);
        expect(() => parseZone(`${line}\n`), line).toThrow(/cannot appear in a zone file/);
      }
    }
  });
});
