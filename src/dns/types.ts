/**
 * Resource record types (IANA "Resource Record (RR) TYPEs"). The mnemonic table covers the
 * assigned types so that NSEC bitmaps and RRSIG "type covered" can name them; which of them
 * hms can read and write in presentation form is decided by the rdata registry.
 */
export const RRType = {
  A: 1,
  NS: 2,
  MD: 3,
  MF: 4,
  CNAME: 5,
  SOA: 6,
  MB: 7,
  MG: 8,
  MR: 9,
  NULL: 10,
  WKS: 11,
  PTR: 12,
  HINFO: 13,
  MINFO: 14,
  MX: 15,
  TXT: 16,
  RP: 17,
  AFSDB: 18,
  X25: 19,
  ISDN: 20,
  RT: 21,
  NSAP: 22,
  'NSAP-PTR': 23,
  SIG: 24,
  KEY: 25,
  PX: 26,
  GPOS: 27,
  AAAA: 28,
  LOC: 29,
  NXT: 30,
  EID: 31,
  NIMLOC: 32,
  SRV: 33,
  ATMA: 34,
  NAPTR: 35,
  KX: 36,
  CERT: 37,
  A6: 38,
  DNAME: 39,
  SINK: 40,
  OPT: 41,
  APL: 42,
  DS: 43,
  SSHFP: 44,
  IPSECKEY: 45,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  DHCID: 49,
  NSEC3: 50,
  NSEC3PARAM: 51,
  TLSA: 52,
  SMIMEA: 53,
  HIP: 55,
  NINFO: 56,
  RKEY: 57,
  TALINK: 58,
  CDS: 59,
  CDNSKEY: 60,
  OPENPGPKEY: 61,
  CSYNC: 62,
  ZONEMD: 63,
  SVCB: 64,
  HTTPS: 65,
  SPF: 99,
  NID: 104,
  L32: 105,
  L64: 106,
  LP: 107,
  EUI48: 108,
  EUI64: 109,
  TKEY: 249,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  URI: 256,
  CAA: 257,
  AVC: 258,
  DOA: 259,
  AMTRELAY: 260,
  TA: 32768,
  DLV: 32769,
} as const;

export type RRTypeName = keyof typeof RRType;

const TYPE_BY_TEXT = new Map<string, number>(Object.entries(RRType));
const NAME_BY_NUMBER = new Map<number, string>(Object.entries(RRType).map(([k, v]) => [v, k]));

/** Types that may never appear in a zone file (RFC 6895 meta-types and QTYPEs). */
export const META_TYPES: ReadonlySet<number> = new Set([
  RRType.OPT,
  RRType.TKEY,
  RRType.TSIG,
  RRType.IXFR,
  RRType.AXFR,
  RRType.MAILB,
  RRType.MAILA,
  RRType.ANY,
]);

/** Types that only the signer makes; they must not be in unsigned input. */
export const DNSSEC_TYPES: ReadonlySet<number> = new Set([
  RRType.RRSIG,
  RRType.NSEC,
  RRType.NSEC3,
  RRType.NSEC3PARAM,
  RRType.DNSKEY,
  RRType.CDS,
  RRType.CDNSKEY,
]);

/** `A`, `TYPE65534`: the mnemonic where there is one, else the RFC 3597 form. */
export function typeToString(type: number): string {
  return NAME_BY_NUMBER.get(type) ?? `TYPE${type}`;
}

/** Reads a type mnemonic or `TYPEnnn`; returns undefined when the text is neither. */
export function parseType(text: string): number | undefined {
  const exact = TYPE_BY_TEXT.get(text);
  if (exact !== undefined) return exact;
  const upper = text.toUpperCase();
  const known = (RRType as Record<string, number>)[upper];
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(upper);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}

/** DNS classes; hms serves IN only. */
export function parseClass(text: string): number | undefined {
  if (text === 'IN') return 1;
  // every class mnemonic starts with I, C, H, N or A: most record types are rejected here
  const c = text.charCodeAt(0) | 0x20;
  if (c !== 0x69 && c !== 0x63 && c !== 0x68 && c !== 0x6e && c !== 0x61) return undefined;
  const upper = text.toUpperCase();
  switch (upper) {
    case 'IN':
      return 1;
    case 'CS':
      return 2;
    case 'CH':
      return 3;
    case 'HS':
      return 4;
    case 'NONE':
      return 254;
    case 'ANY':
      return 255;
    default: {
      const m = /^CLASS(\d{1,5})$/.exec(upper);
      if (m && Number(m[1]) <= 0xffff) return Number(m[1]);
      return undefined;
    }
  }
}
