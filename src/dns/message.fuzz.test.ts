import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WireFormatError } from '../common/errors.js';
import { decodeMessage, uncompressedRdata, type DecodedMessage } from './message.js';
import { Name } from './name.js';
import { canonicalRdata, checkRdata, formatRdata } from './rdata/index.js';
import { makeTsigKey, signMessage, TSIG_ALGORITHMS, verifyMessage, type TsigKey, type TsigVerification } from './tsig.js';
import { RRType } from './types.js';
import { nameArb, rdataOf, recordArb, type RecordValue } from '../../test/helpers/dns-arbitraries.js';
import { fuzz } from '../../test/helpers/fuzz.js';
import { hex } from '../../test/helpers/rdata.js';

/**
 * Issue 17: the DNS message decoder under property-based fuzzing. Messages built from valid
 * records of every type, with and without name compression, decode to what was written; any
 * octets, and valid messages damaged every way a peer can damage them (bit flips, cuts, lying
 * counts and lengths, pointer loops and forward pointers, oversize labels and names, broken
 * TSIG records of every shape), either decode or are refused with WireFormatError: never
 * another exception. A damaged signed message never verifies.
 */

/** Types whose RDATA names a sender may compress (RFC 3597 section 4; message.ts COMPRESSIBLE). */
const COMPRESSIBLE = new Set<number>([
  RRType.NS,
  RRType.MD,
  RRType.MF,
  RRType.CNAME,
  RRType.MB,
  RRType.MG,
  RRType.MR,
  RRType.PTR,
  RRType.SOA,
  RRType.MINFO,
  RRType.RP,
  RRType.MX,
  RRType.AFSDB,
  RRType.RT,
  RRType.PX,
  RRType.SRV,
  RRType.NAPTR,
]);

interface QuestionValue {
  readonly name: Uint8Array;
  readonly type: number;
  readonly class: number;
}
interface MessageValue {
  readonly id: number;
  readonly flags: number;
  readonly questions: readonly QuestionValue[];
  readonly records: readonly (RecordValue & { readonly class: number })[];
  /** How many of the records are answers and authority; the rest are additional. */
  readonly split: readonly [number, number];
  readonly compress: boolean;
}

const u16 = fc.integer({ min: 0, max: 0xffff });
const messageArb: fc.Arbitrary<MessageValue> = fc.record({
  id: u16,
  flags: u16,
  questions: fc.array(fc.record({ name: nameArb, type: u16, class: fc.oneof(fc.constant(1), u16) }), { maxLength: 2 }),
  records: fc.array(
    fc.tuple(recordArb, fc.oneof(fc.constant(1), u16)).map(([r, c]) => ({ ...r, class: c })),
    { maxLength: 6 },
  ),
  split: fc.tuple(fc.nat(), fc.nat()),
  compress: fc.boolean(),
});

/** Writes a message as a sender would, compressing names (owners, questions, RDATA of COMPRESSIBLE types) when asked. */
function buildMessage(m: MessageValue): { wire: Uint8Array; counts: [number, number, number] } {
  const out: number[] = [];
  const u16w = (v: number): void => {
    out.push(v >> 8, v & 0xff);
  };
  const seen = new Map<string, number>();
  const writeName = (wire: Uint8Array, compress: boolean): void => {
    const starts: number[] = [];
    for (let p = 0; wire[p] !== 0; p += wire[p]! + 1) starts.push(p);
    let cut = starts.length;
    let pointer: number | undefined;
    if (compress) {
      for (let i = 0; i < starts.length; i++) {
        const at = seen.get(Buffer.from(wire.subarray(starts[i])).toString('latin1'));
        if (at !== undefined) {
          cut = i;
          pointer = at;
          break;
        }
      }
    }
    const base = out.length;
    for (let i = 0; i < cut; i++) {
      const key = Buffer.from(wire.subarray(starts[i])).toString('latin1');
      if (!seen.has(key) && base + starts[i]! < 0x4000) seen.set(key, base + starts[i]!);
    }
    const literalEnd = cut === starts.length ? wire.length : starts[cut]!;
    out.push(...wire.subarray(0, pointer === undefined ? literalEnd : literalEnd));
    if (pointer === undefined) return;
    u16w(0xc000 | pointer);
  };
  const an = Math.min(m.split[0], m.records.length);
  const ns = Math.min(m.split[1], m.records.length - an);
  const counts: [number, number, number] = [an, ns, m.records.length - an - ns];
  u16w(m.id);
  u16w(m.flags);
  u16w(m.questions.length);
  for (const c of counts) u16w(c);
  for (const q of m.questions) {
    writeName(q.name, m.compress);
    u16w(q.type);
    u16w(q.class);
  }
  for (const r of m.records) {
    writeName(r.owner, m.compress);
    u16w(r.type);
    u16w(r.class);
    out.push(r.ttl >>> 24, (r.ttl >>> 16) & 0xff, (r.ttl >>> 8) & 0xff, r.ttl & 0xff);
    const lengthAt = out.length;
    u16w(0);
    for (const p of r.parts) {
      if ('name' in p) writeName(p.name, m.compress && COMPRESSIBLE.has(r.type));
      else out.push(...p.bytes);
    }
    const length = out.length - lengthAt - 2;
    out[lengthAt] = length >> 8;
    out[lengthAt + 1] = length & 0xff;
  }
  return { wire: Uint8Array.from(out), counts };
}

/**
 * What the service does with a message it has read: every record's RDATA written out in full,
 * checked, printed and put in canonical form. Only WireFormatError may come out of it.
 */
function consume(wire: Uint8Array, decoded: DecodedMessage): void {
  for (const r of decoded.records) {
    let rdata: Uint8Array;
    try {
      rdata = uncompressedRdata(wire, r);
    } catch (e) {
      expect(e).toBeInstanceOf(WireFormatError);
      continue;
    }
    if (checkRdata(r.type, rdata) !== undefined) continue;
    expect(typeof formatRdata(r.type, rdata)).toBe('string');
    expect(canonicalRdata(r.type, rdata)).toHaveLength(rdata.length);
  }
}

const KEYS: TsigKey[] = TSIG_ALGORITHMS.map((a, i) => makeTsigKey(`key${i}.example.`, a, Buffer.alloc(16 + i * 8, i + 1).toString('base64')));
const findKey = (n: Name): TsigKey | undefined => KEYS.find((k) => k.name.equals(n));
const NOW = 1_750_000_000;

/** Decodes and, when there is a TSIG record, verifies: only WireFormatError may be thrown. */
function decodeAndVerify(wire: Uint8Array): TsigVerification | undefined | 'refused' {
  try {
    const decoded = decodeMessage(wire);
    consume(wire, decoded);
    return verifyMessage(wire, findKey, { now: NOW });
  } catch (e) {
    if (!(e instanceof WireFormatError)) throw e;
    expect(e.message.length).toBeLessThan(200);
    return 'refused';
  }
}

/** One way to damage a message; applied one to four times. */
type Damage = (b: Uint8Array) => Uint8Array;
const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })).map(([at, bit]): Damage => (b) => {
    const c = Uint8Array.from(b);
    if (c.length > 0) c[at % c.length]! ^= 1 << bit;
    return c;
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })).map(([at, v]): Damage => (b) => {
    const c = Uint8Array.from(b);
    if (c.length > 0) c[at % c.length] = v;
    return c;
  }),
  fc.nat().map(
    (at): Damage =>
      (b) =>
        b.subarray(0, b.length === 0 ? 0 : at % b.length),
  ),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, ins]): Damage => (b) => {
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), ins, b.subarray(i)]);
  }),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })).map(([at, n]): Damage => (b) => {
    const i = b.length === 0 ? 0 : at % b.length;
    return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
  }),
  // a lying QDCOUNT, ANCOUNT, NSCOUNT or ARCOUNT
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.oneof(fc.integer({ min: 0, max: 8 }), u16)).map(([which, v]): Damage => (b) => {
    const c = Uint8Array.from(b);
    if (c.length >= 12) {
      c[4 + 2 * which] = v >> 8;
      c[5 + 2 * which] = v & 0xff;
    }
    return c;
  }),
  // a compression pointer anywhere: to itself, backwards, forwards, past the end
  fc.tuple(fc.nat(), fc.oneof(fc.constant('self'), fc.nat(0x3fff))).map(([at, target]): Damage => (b) => {
    const c = Uint8Array.from(b);
    if (c.length < 2) return c;
    const i = at % (c.length - 1);
    const t = target === 'self' ? i : target;
    c[i] = 0xc0 | (t >> 8);
    c[i + 1] = t & 0xff;
    return c;
  }),
  // a label length over 63, or of the reserved label types 0x40 and 0x80
  fc.tuple(fc.nat(), fc.integer({ min: 64, max: 0xbf })).map(([at, v]): Damage => (b) => {
    const c = Uint8Array.from(b);
    if (c.length > 0) c[at % c.length] = v;
    return c;
  }),
  // a lying RDLENGTH: the last two octets before some record's RDATA
  fc.tuple(fc.nat(), u16).map(([which, v]): Damage => (b) => {
    let decoded: DecodedMessage;
    try {
      decoded = decodeMessage(b);
    } catch {
      return b;
    }
    if (decoded.records.length === 0) return b;
    const r = decoded.records[which % decoded.records.length]!;
    const c = Uint8Array.from(b);
    c[r.rdataStart - 2] = v >> 8;
    c[r.rdataStart - 1] = v & 0xff;
    return c;
  }),
);

/**
 * Hostile names: a header, then a run of labels, pointers (back, forward, to themselves),
 * reserved label types and long labels, with the question and record counts set at random.
 */
const hostileArb = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 4, maxLength: 4 }),
    fc.array(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 63 }).map((l) => [l.length, ...l]),
        fc.constant([63, ...new Array<number>(63).fill(0x61)]),
        fc.nat(0x3fff).map((t) => [0xc0 | (t >> 8), t & 0xff]),
        fc.integer({ min: 0, max: 40 }).map((t) => [0xc0, 12 + t]),
        fc.integer({ min: 0x40, max: 0xbf }).map((v) => [v]),
        fc.constant([0]),
        fc.uint8Array({ maxLength: 10 }).map((b) => [...b]),
      ),
      { maxLength: 40 },
    ),
  )
  .map(([counts, pieces]) => Uint8Array.from([0, 1, 0, 0, ...counts.flatMap((c) => [0, c]), ...pieces.flat()]));

describe('fuzz: the DNS message decoder (issue 17)', () => {
  it('decodes every message built from valid records of every type, compressed or not, to what was written', () => {
    fuzz(
      'message round trip',
      [messageArb],
      (m) => {
        const { wire, counts } = buildMessage(m);
        const d = decodeMessage(wire);
        expect([d.header.id, d.header.qdcount, d.header.ancount, d.header.nscount, d.header.arcount]).toEqual([m.id, m.questions.length, ...counts]);
        expect(d.header.rcode).toBe(m.flags & 0xf);
        expect(d.questions.map((q) => [hex(q.name.toBytes()), q.type, q.class])).toEqual(m.questions.map((q) => [hex(q.name), q.type, q.class]));
        expect(d.records).toHaveLength(m.records.length);
        m.records.forEach((r, i) => {
          const got = d.records[i]!;
          expect([hex(got.owner.toBytes()), got.type, got.class, got.ttl]).toEqual([hex(r.owner), r.type, r.class, r.ttl]);
          const rdata = uncompressedRdata(wire, got);
          expect(hex(rdata)).toBe(hex(rdataOf(r.parts)));
          expect(checkRdata(r.type, rdata)).toBeUndefined();
        });
      },
      { ciRuns: 200 },
    );
  });

  it('reads any octets as a message or refuses them with WireFormatError', () => {
    fuzz(
      'message decoder on any octets',
      [fc.uint8Array({ maxLength: 120 })],
      (b) => {
        decodeAndVerify(b);
      },
      { ciRuns: 1000 },
    );
  });

  it('reads hostile names (pointer loops, forward pointers, long and reserved labels) or refuses them with WireFormatError', () => {
    fuzz(
      'message decoder on hostile names',
      [hostileArb],
      (b) => {
        const result = decodeAndVerify(b);
        if (result === 'refused') return;
        for (const q of decodeMessage(b).questions) expect(q.name.length).toBeLessThanOrEqual(255);
      },
      { ciRuns: 1000 },
    );
  });

  it('reads valid messages damaged one to four times or refuses them with WireFormatError', () => {
    fuzz(
      'message decoder on damaged messages',
      [messageArb, fc.array(damageArb, { minLength: 1, maxLength: 4 })],
      (m, damage) => {
        decodeAndVerify(damage.reduce((b, d) => d(b), buildMessage(m).wire));
      },
      { ciRuns: 1000 },
    );
  });
});

/** A signed message: a built message with a TSIG record appended by one of the keys. */
const signedArb = fc.tuple(messageArb, fc.constantFrom(...KEYS), fc.integer({ min: -300, max: 300 })).map(([m, key, skew]) => {
  const { wire } = buildMessage(m);
  return { key, ...signMessage(wire, key, { now: NOW + skew }) };
});

/** Where the TSIG record of a signed message sits: its start, its RDATA and the RDATA's fields. */
function tsigLayout(signed: Uint8Array): { start: number; rdataStart: number; macSizeAt: number; macSize: number; otherLenAt: number } {
  const rr = decodeMessage(signed).records.at(-1)!;
  const algEnd = Name.decode(signed, rr.rdataStart).end;
  const macSizeAt = algEnd + 8;
  const macSize = (signed[macSizeAt]! << 8) | signed[macSizeAt + 1]!;
  return { start: rr.start, rdataStart: rr.rdataStart, macSizeAt, macSize, otherLenAt: macSizeAt + 2 + macSize + 4 };
}

function setU16(b: Uint8Array, at: number, v: number): Uint8Array {
  const c = Uint8Array.from(b);
  c[at] = (v >> 8) & 0xff;
  c[at + 1] = v & 0xff;
  return c;
}

/** With RDLENGTH made to fit a TSIG RDATA that was cut or grown by `delta` octets. */
function withRdlength(b: Uint8Array, rdataStart: number, delta: number): Uint8Array {
  return setU16(b, rdataStart - 2, ((b[rdataStart - 2]! << 8) | b[rdataStart - 1]!) + delta);
}

/** Broken TSIG records of every shape; none of them may verify. */
type Breakage = (s: Uint8Array) => Uint8Array;
const breakageArb: fc.Arbitrary<[string, Breakage]> = fc.oneof(
  fc.nat().map((n): [string, Breakage] => [
    'RDATA cut short',
    (s) => {
      const l = tsigLayout(s);
      const cut = 1 + (n % (s.length - l.rdataStart));
      return withRdlength(s.subarray(0, s.length - cut), l.rdataStart, -cut);
    },
  ]),
  fc
    .uint8Array({ minLength: 1, maxLength: 6 })
    .map((extra): [string, Breakage] => ['octets after the RDATA', (s) => withRdlength(Buffer.concat([s, extra]), tsigLayout(s).rdataStart, extra.length)]),
  u16.map((v): [string, Breakage] => [
    'a lying MAC size',
    (s) => {
      const l = tsigLayout(s);
      return setU16(s, l.macSizeAt, v === l.macSize ? v + 1 : v);
    },
  ]),
  u16.map((v): [string, Breakage] => ['a lying Other Len', (s) => setU16(s, tsigLayout(s).otherLenAt, v === 0 ? 1 : v)]),
  fc.constant<[string, Breakage]>([
    'an empty MAC',
    (s) => {
      const l = tsigLayout(s);
      const body = Buffer.concat([s.subarray(0, l.macSizeAt), Uint8Array.of(0, 0), s.subarray(l.macSizeAt + 2 + l.macSize)]);
      return withRdlength(body, l.rdataStart, -l.macSize);
    },
  ]),
  fc.integer({ min: 1, max: 9 }).map((keep): [string, Breakage] => [
    'a MAC cut below 10 octets',
    (s) => {
      const l = tsigLayout(s);
      const body = Buffer.concat([
        setU16(s.subarray(0, l.macSizeAt + 2), l.macSizeAt, keep),
        s.subarray(l.macSizeAt + 2, l.macSizeAt + 2 + keep),
        s.subarray(l.macSizeAt + 2 + l.macSize),
      ]);
      return withRdlength(body, l.rdataStart, keep - l.macSize);
    },
  ]),
  fc.constant<[string, Breakage]>([
    'a compressed algorithm name',
    (s) => {
      const l = tsigLayout(s);
      const algEnd = Name.decode(s, l.rdataStart).end;
      const body = Buffer.concat([s.subarray(0, l.rdataStart), Uint8Array.of(0xc0, 12), s.subarray(algEnd)]);
      return withRdlength(body, l.rdataStart, 2 - (algEnd - l.rdataStart));
    },
  ]),
  fc.constantFrom('hmac-md5.sig-alg.reg.int.', 'hmac-sha256.x.', '.').map((alg): [string, Breakage] => [
    'an unknown algorithm',
    (s) => {
      const l = tsigLayout(s);
      const algEnd = Name.decode(s, l.rdataStart).end;
      const name = Name.parse(alg).toBytes();
      const body = Buffer.concat([s.subarray(0, l.rdataStart), name, s.subarray(algEnd)]);
      return withRdlength(body, l.rdataStart, name.length - (algEnd - l.rdataStart));
    },
  ]),
  fc.tuple(fc.integer({ min: 0, max: 0xfffe }), fc.integer({ min: 1, max: 0xffffffff })).map(([cls, ttl]): [string, Breakage] => [
    'a class other than ANY or a TTL other than 0',
    (s) => {
      const l = tsigLayout(s);
      const c = setU16(s, l.rdataStart - 8, cls === 255 ? 1 : cls);
      return ttl % 2 === 0
        ? c
        : Buffer.concat([
            c.subarray(0, l.rdataStart - 6),
            Uint8Array.of(ttl >>> 24, (ttl >>> 16) & 0xff, (ttl >>> 8) & 0xff, ttl & 0xff),
            c.subarray(l.rdataStart - 2),
          ]);
    },
  ]),
  fc.constant<[string, Breakage]>([
    'a record after the TSIG record',
    (s) => {
      const c = setU16(s, 10, ((s[10]! << 8) | s[11]!) + 1);
      return Buffer.concat([c, Uint8Array.of(0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)]);
    },
  ]),
  fc.constant<[string, Breakage]>([
    'two TSIG records',
    (s) => {
      const l = tsigLayout(s);
      const c = setU16(s, 10, ((s[10]! << 8) | s[11]!) + 1);
      return Buffer.concat([c, s.subarray(l.start)]);
    },
  ]),
  fc.constant<[string, Breakage]>([
    'a TSIG record counted as an answer',
    (s) => {
      const counts = [4, 6, 8, 10].map((at) => (s[at]! << 8) | s[at + 1]!);
      if (counts[2]! + counts[3]! > 1) return setU16(setU16(s, 10, 0), 8, counts[2]! + counts[3]!);
      return setU16(setU16(s, 10, 0), 6, counts[1]! + 1);
    },
  ]),
  fc.integer({ min: 301, max: 0xffffff }).map((skew): [string, Breakage] => [
    'a time outside the fudge',
    (s) => {
      const l = tsigLayout(s);
      const algEnd = Name.decode(s, l.rdataStart).end;
      const c = Uint8Array.from(s);
      const t = NOW + (skew % 2 === 0 ? skew : -skew);
      c[algEnd] = 0;
      c[algEnd + 1] = 0;
      Buffer.from(c.buffer, c.byteOffset).writeUInt32BE(t >>> 0, algEnd + 2);
      return c;
    },
  ]),
);

describe('fuzz: TSIG records (issue 17)', () => {
  it('verifies what it signs, and a signed message with one octet changed verifies only where RFC 8945 leaves the octet out of the MAC', () => {
    fuzz(
      'TSIG one octet changed',
      [signedArb, fc.nat(), fc.integer({ min: 1, max: 255 })],
      ({ message }, at, x) => {
        expect(decodeAndVerify(message)).toMatchObject({ status: 'ok' });
        const i = at % message.length;
        const changed = Uint8Array.from(message);
        changed[i]! ^= x;
        const result = decodeAndVerify(changed);
        if (result === 'refused' || result === undefined || result.status !== 'ok') return;
        // left out of the MAC: the message ID (the Original ID stands for it), and the case of the
        // key and algorithm names (the MAC covers them lowercased)
        const l = tsigLayout(message);
        const inNames = i >= l.start && i < l.macSizeAt - 8 && (i < l.rdataStart - 10 || i >= l.rdataStart);
        const caseOnly = x === 0x20 && /[a-z]/i.test(String.fromCharCode(message[i]!));
        expect(i < 2 || (inNames && caseOnly), `octet ${i} changed by ${x} still verifies`).toBe(true);
      },
      { ciRuns: 250 },
    );
  });

  it('answers BADTIME to a good MAC made at a time outside the fudge', () => {
    fuzz(
      'TSIG time outside the fudge',
      [messageArb, fc.constantFrom(...KEYS), fc.integer({ min: 301, max: 2 ** 40 })],
      (m, key, skew) => {
        for (const now of [NOW + skew, NOW - skew]) {
          if (now < 0) continue;
          const { message } = signMessage(buildMessage(m).wire, key, { now });
          expect(decodeAndVerify(message)).toMatchObject({ status: 'BADTIME' });
        }
      },
      { ciRuns: 100 },
    );
  });

  it('never verifies a broken TSIG record, and refuses it with a status or WireFormatError', () => {
    fuzz(
      'TSIG broken records',
      [signedArb, breakageArb],
      ({ message }, [shape, breakage]) => {
        const result = decodeAndVerify(breakage(message));
        if (result !== 'refused' && result !== undefined) expect(result.status, shape).not.toBe('ok');
      },
      { ciRuns: 400 },
    );
  });
});
