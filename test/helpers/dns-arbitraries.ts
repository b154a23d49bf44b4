import fc from 'fast-check';
import { codecFor } from '../../src/dns/rdata/index.js';
import { META_TYPES, RRType } from '../../src/dns/types.js';

/**
 * fast-check arbitraries that make valid wire data of every record type hms knows. They are
 * written from the RFCs, not from hms's codecs, so that a codec that reads or writes a field
 * wrongly disagrees with them. RDATA comes as parts: the names apart from the other octets,
 * so that a test can compress the names a sender may compress (RFC 3597 section 4).
 */
export type RdataPart = { readonly name: Uint8Array } | { readonly bytes: Uint8Array };

export function rdataOf(parts: readonly RdataPart[]): Uint8Array {
  return Buffer.concat(parts.map((p) => ('name' in p ? p.name : p.bytes)));
}

const bytes = (b: Uint8Array): RdataPart => ({ bytes: b });
const fixed = (n: number): fc.Arbitrary<RdataPart> => fc.uint8Array({ minLength: n, maxLength: n }).map(bytes);
const u8 = fixed(1);
const u16 = fixed(2);
const u32 = fixed(4);
const latin1 = (s: string): Uint8Array => Buffer.from(s, 'latin1');

/** One label: mostly host-name letters in mixed case, sometimes any octets, sometimes the characters presentation form must escape. */
const label: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-zA-Z0-9-]{1,12}$/).map(latin1) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 63 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('*', '@', '$ORIGIN', 'a.b', '\\', '"', '(', ')', ';', ' ', '\t', '#', 'IN', 'TYPE1', '\\#', 'x'.repeat(63)).map(latin1),
  },
);

function nameWire(labels: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat([...labels.flatMap((l) => [Uint8Array.of(l.length), l]), Uint8Array.of(0)]);
}

/** A domain name in wire form (uncompressed), up to the 255-octet limit. */
export const nameArb: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    { weight: 8, arbitrary: fc.array(label, { maxLength: 5 }).map(nameWire) },
    // a few names shared between records, so that compression has something to point at
    {
      weight: 3,
      arbitrary: fc.constantFrom('example.com.', 'ns1.example.com.', 'Example.COM.', 'mail.example.com.', '.').map((t) =>
        nameWire(
          t
            .split('.')
            .filter((l) => l !== '')
            .map(latin1),
        ),
      ),
    },
    // the longest names: 255 octets exactly
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.uint8Array({ minLength: 61, maxLength: 61 }), fc.uint8Array({ minLength: 63, maxLength: 63 }))
        .map(([a, b]) => nameWire([a, b, b, b])),
    },
  )
  .filter((n) => n.length <= 255);

const name: fc.Arbitrary<RdataPart> = nameArb.map((n) => ({ name: n }));
/** A <character-string> (RFC 1035 section 3.3): a length octet, then up to 255 octets. */
const charString = fc.uint8Array({ maxLength: 255 }).map((b) => bytes(Buffer.concat([Uint8Array.of(b.length), b])));
const octets = (min: number, max = 200): fc.Arbitrary<RdataPart> => fc.uint8Array({ minLength: min, maxLength: max }).map(bytes);
const seq = (...parts: fc.Arbitrary<RdataPart>[]): fc.Arbitrary<RdataPart[]> => fc.tuple(...parts);

/** An RFC 4034 section 4.1.2 type bitmap of a set of types (empty for no types). */
export function typeBitmapWire(types: readonly number[]): Uint8Array {
  const out: number[] = [];
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  for (let window = 0; window < 256; window++) {
    const inWindow = sorted.filter((t) => t >> 8 === window).map((t) => t & 0xff);
    if (inWindow.length === 0) continue;
    const bits = new Array<number>(Math.floor(Math.max(...inWindow) / 8) + 1).fill(0);
    for (const t of inWindow) bits[t >> 3]! |= 0x80 >> (t & 7);
    out.push(window, bits.length, ...bits);
  }
  return Uint8Array.from(out);
}

const typeNumber = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffff }));
const bitmap = fc.uniqueArray(typeNumber, { maxLength: 12 }).map((types) => bytes(typeBitmapWire(types)));

/** A LOC precision octet (RFC 1876): 0, or a mantissa 1-9 and an exponent 0-9. */
const precision = fc.oneof(
  fc.constant(0),
  fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 9 })).map(([m, e]) => (m << 4) | e),
);
const EQUATOR = 2 ** 31;
function coordinate(maxDegrees: number): fc.Arbitrary<number> {
  const span = maxDegrees * 3_600_000;
  return fc.oneof(fc.integer({ min: EQUATOR - span, max: EQUATOR + span }), fc.constantFrom(EQUATOR - span, EQUATOR, EQUATOR + span));
}
const loc = fc
  .tuple(precision, precision, precision, coordinate(90), coordinate(180), fc.integer({ min: 0, max: 0xffffffff }))
  .map(([size, hp, vp, lat, lon, alt]) => {
    const b = Buffer.alloc(16);
    b.writeUInt8(0, 0);
    b.writeUInt8(size, 1);
    b.writeUInt8(hp, 2);
    b.writeUInt8(vp, 3);
    b.writeUInt32BE(lat, 4);
    b.writeUInt32BE(lon, 8);
    b.writeUInt32BE(alt, 12);
    return [bytes(b)];
  });

/** An ASCII path with a {?dns} template somewhere: what RFC 9461 dohpath must be. */
const dohpath = fc
  .tuple(fc.stringMatching(/^(\/[a-zA-Z0-9._~-]{0,8}){1,3}$/), fc.constantFrom('{?dns}', '{?dns,x}', '/{dns}', '{&dns*}'))
  .map(([p, t]) => latin1(p + t));

/** SVCB/HTTPS RDATA (RFC 9460): AliasMode, or ServiceMode with params in key order, each valid. */
const svcb: fc.Arbitrary<RdataPart[]> = fc.oneof(
  fc.tuple(name).map(([target]) => [bytes(Uint8Array.of(0, 0)), target]),
  fc
    .record({
      priority: fc.integer({ min: 1, max: 0xffff }),
      target: name,
      alpn: fc.option(fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 3 })),
      noDefaultAlpn: fc.boolean(),
      port: fc.option(fc.integer({ min: 0, max: 0xffff })),
      ipv4: fc.option(fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 3 })),
      ech: fc.option(fc.uint8Array({ minLength: 1, maxLength: 40 })),
      ipv6: fc.option(fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 2 })),
      dohpath: fc.option(dohpath),
      ohttp: fc.boolean(),
      generic: fc.uniqueArray(fc.tuple(fc.integer({ min: 9, max: 0xffff }), fc.uint8Array({ maxLength: 20 })), { maxLength: 3, selector: ([k]) => k }),
      mandatoryPick: fc.array(fc.boolean(), { maxLength: 8 }),
    })
    .map((s) => {
      const params = new Map<number, Uint8Array>();
      if (s.alpn !== null) params.set(1, Buffer.concat(s.alpn.flatMap((id) => [Uint8Array.of(id.length), id])));
      if (s.alpn !== null && s.noDefaultAlpn) params.set(2, new Uint8Array(0));
      if (s.port !== null) params.set(3, Uint8Array.of(s.port >> 8, s.port & 0xff));
      if (s.ipv4 !== null) params.set(4, Buffer.concat(s.ipv4));
      if (s.ech !== null) params.set(5, s.ech);
      if (s.ipv6 !== null) params.set(6, Buffer.concat(s.ipv6));
      if (s.dohpath !== null) params.set(7, s.dohpath);
      if (s.ohttp) params.set(8, new Uint8Array(0));
      for (const [k, v] of s.generic) params.set(k, v);
      const keys = [...params.keys()].sort((a, b) => a - b);
      const mandatory = keys.filter((_, i) => s.mandatoryPick[i] === true);
      if (mandatory.length > 0) params.set(0, Buffer.concat(mandatory.map((k) => Uint8Array.of(k >> 8, k & 0xff))));
      const w: Uint8Array[] = [];
      for (const k of [...params.keys()].sort((a, b) => a - b)) {
        const v = params.get(k)!;
        w.push(Uint8Array.of(k >> 8, k & 0xff, v.length >> 8, v.length & 0xff), v);
      }
      return [bytes(Uint8Array.of(s.priority >> 8, s.priority & 0xff)), s.target, bytes(Buffer.concat(w))];
    }),
);

/**
 * Valid RDATA of every type hms has a codec for, by type number. A test holds this table
 * against the codec registry: a type given a codec without an arbitrary here fails it.
 */
export const TYPED_RDATA: ReadonlyMap<number, fc.Arbitrary<RdataPart[]>> = new Map<number, fc.Arbitrary<RdataPart[]>>([
  [RRType.A, seq(fixed(4))],
  [RRType.NS, seq(name)],
  [RRType.CNAME, seq(name)],
  [RRType.SOA, seq(name, name, u32, u32, u32, u32, u32)],
  [RRType.MB, seq(name)],
  [RRType.MG, seq(name)],
  [RRType.MR, seq(name)],
  [RRType.PTR, seq(name)],
  [RRType.HINFO, seq(charString, charString)],
  [RRType.MINFO, seq(name, name)],
  [RRType.MX, seq(u16, name)],
  [RRType.TXT, fc.array(charString, { minLength: 1, maxLength: 5 })],
  [RRType.RP, seq(name, name)],
  [RRType.AFSDB, seq(u16, name)],
  [RRType.AAAA, seq(fixed(16))],
  [RRType.LOC, loc],
  [RRType.SRV, seq(u16, u16, u16, name)],
  [RRType.NAPTR, seq(u16, u16, charString, charString, charString, name)],
  [RRType.KX, seq(u16, name)],
  [RRType.CERT, seq(u16, u16, u8, octets(1))],
  [RRType.DNAME, seq(name)],
  [RRType.DS, seq(u16, u8, u8, octets(1))],
  [RRType.CDS, seq(u16, u8, u8, octets(1))],
  [RRType.SSHFP, seq(u8, u8, octets(1))],
  [RRType.RRSIG, seq(u16, u8, u8, u32, u32, u32, u16, name, octets(1))],
  [RRType.NSEC, seq(name, bitmap)],
  [RRType.DNSKEY, seq(u16, u8, u8, octets(1))],
  [RRType.CDNSKEY, seq(u16, u8, u8, octets(1))],
  [RRType.DHCID, seq(octets(1))],
  [
    RRType.NSEC3,
    seq(
      u8,
      u8,
      u16,
      fc.uint8Array({ maxLength: 255 }).map((s) => bytes(Buffer.concat([Uint8Array.of(s.length), s]))),
      fc.uint8Array({ minLength: 1, maxLength: 255 }).map((h) => bytes(Buffer.concat([Uint8Array.of(h.length), h]))),
      bitmap,
    ),
  ],
  [
    RRType.NSEC3PARAM,
    seq(
      u8,
      u8,
      u16,
      fc.uint8Array({ maxLength: 255 }).map((s) => bytes(Buffer.concat([Uint8Array.of(s.length), s]))),
    ),
  ],
  [RRType.TLSA, seq(u8, u8, u8, octets(1))],
  [RRType.SMIMEA, seq(u8, u8, u8, octets(1))],
  [RRType.OPENPGPKEY, seq(octets(1))],
  [RRType.CSYNC, seq(u32, u16, bitmap)],
  [RRType.ZONEMD, seq(u32, u8, u8, octets(1))],
  [RRType.SVCB, svcb],
  [RRType.HTTPS, svcb],
  [RRType.SPF, fc.array(charString, { minLength: 1, maxLength: 5 })],
  [RRType.NID, seq(u16, fixed(8))],
  [RRType.L32, seq(u16, fixed(4))],
  [RRType.L64, seq(u16, fixed(8))],
  [RRType.LP, seq(u16, name)],
  [RRType.EUI48, seq(fixed(6))],
  [RRType.EUI64, seq(fixed(8))],
  [RRType.URI, seq(u16, u16, octets(0))],
  [
    RRType.CAA,
    seq(
      u8,
      fc.stringMatching(/^[a-zA-Z0-9]{1,255}$/).map((t) => bytes(Buffer.concat([Uint8Array.of(t.length), latin1(t)]))),
      octets(0),
    ),
  ],
]);

/**
 * Types hms keeps in the RFC 3597 generic form whose RDATA holds names a sender may compress:
 * their structure, so that messages carry compressed names for them too.
 */
const GENERIC_WITH_NAMES: ReadonlyMap<number, fc.Arbitrary<RdataPart[]>> = new Map([
  [RRType.MD, seq(name)],
  [RRType.MF, seq(name)],
  [RRType.RT, seq(u16, name)],
  [RRType.PX, seq(u16, name, name)],
]);

/** Every type of the mnemonic table that is not a meta-type and has no codec: written as `\#` only. */
export const GENERIC_TYPES: readonly number[] = Object.values(RRType).filter((t) => codecFor(t) === undefined && !META_TYPES.has(t));

/** Valid RDATA of a type: the typed arbitrary, else any octets (names kept apart where the type has them). */
export function rdataArb(type: number): fc.Arbitrary<RdataPart[]> {
  return TYPED_RDATA.get(type) ?? GENERIC_WITH_NAMES.get(type) ?? fc.tuple(octets(0, 64));
}

/** Any type a zone may hold: one hms has a codec for, one of the mnemonic table without, or any number. */
export const zoneTypeArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TYPED_RDATA.keys()) },
  { weight: 1, arbitrary: fc.constantFrom(...GENERIC_TYPES) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff }).filter((t) => codecFor(t) === undefined && !META_TYPES.has(t)) },
);

export interface RecordValue {
  readonly owner: Uint8Array;
  readonly type: number;
  readonly ttl: number;
  readonly parts: readonly RdataPart[];
}

/** A record of a zone: owner, TTL (RFC 2181 range), type and valid RDATA of that type. */
export const recordArb: fc.Arbitrary<RecordValue> = zoneTypeArb.chain((type) =>
  fc.record({
    owner: nameArb,
    type: fc.constant(type),
    ttl: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.constantFrom(0, 300, 3600)),
    parts: rdataArb(type),
  }),
);
