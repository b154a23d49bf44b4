import { quote, ValueError, WireFormatError } from '../../common/errors.js';
import { ByteReader, ByteWriter, toBase64, toHex } from '../bytes.js';
import { Name } from '../name.js';
import { parseType, typeToString } from '../types.js';
import { parseTtl } from '../ttl.js';
import { quoteText, type ParseContext, type RdataTokens, unescapeText } from './tokens.js';
import { formatIpv4, formatIpv6, parseIpv4Into, parseIpv6Into } from './addresses.js';
import { decodeBase32Hex, encodeBase32Hex } from './base32hex.js';

/**
 * One field of a record's RDATA: how to read it from presentation tokens into wire data, and
 * how to read it from wire data (checking bounds) back into presentation text.
 */
export interface Field {
  readonly label: string;
  parse(r: RdataTokens, w: ByteWriter, ctx: ParseContext): void;
  format(d: ByteReader): string;
  /** A domain name that the canonical form of RFC 4034 section 6.2 (RFC 6840 section 5.1) lowercases. */
  readonly lowerInCanonical?: boolean;
  /** Steps over the field as `format` reads it, without making its text (the canonical form needs only its end). */
  skip?(d: ByteReader): void;
}

function parseDecimal(text: string, max: number, label: string): number {
  if (!/^\d+$/.test(text)) throw new ValueError(`${label}: ${quote(text)} is not a number`);
  const v = Number(text);
  if (v > max) throw new ValueError(`${label}: ${text} is over ${max}`);
  return v;
}

export function u8(label: string, names?: Readonly<Record<string, number>>): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      const named = names?.[t.toUpperCase()];
      w.u8(named ?? parseDecimal(t, 0xff, label));
    },
    format: (d) => String(d.u8(label)),
  };
}

export function u16(label: string, names?: Readonly<Record<string, number>>): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      const named = names?.[t.toUpperCase()];
      w.u16(named ?? parseDecimal(t, 0xffff, label));
    },
    format: (d) => String(d.u16(label)),
  };
}

export function u32(label: string): Field {
  return {
    label,
    parse: (r, w) => w.u32(parseDecimal(r.next(label).text, 0xffffffff, label)),
    format: (d) => String(d.u32(label)),
  };
}

/** A 32-bit time interval that may use units (`1h30m`), as BIND accepts in SOA timers. */
export function interval32(label: string): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      w.u32(/^\d+$/.test(t) ? parseDecimal(t, 0xffffffff, label) : parseTtl(t, 0xffffffff));
    },
    format: (d) => String(d.u32(label)),
  };
}

/** DNSSEC algorithm numbers (IANA), accepted by mnemonic too. */
export const ALGORITHM_NAMES: Readonly<Record<string, number>> = {
  RSAMD5: 1,
  DH: 2,
  DSA: 3,
  RSASHA1: 5,
  'DSA-NSEC3-SHA1': 6,
  'RSASHA1-NSEC3-SHA1': 7,
  RSASHA256: 8,
  RSASHA512: 10,
  'ECC-GOST': 12,
  ECDSAP256SHA256: 13,
  ECDSAP384SHA384: 14,
  ED25519: 15,
  ED448: 16,
  INDIRECT: 252,
  PRIVATEDNS: 253,
  PRIVATEOID: 254,
};

export function name(label: string, lowerInCanonical: boolean): Field {
  return {
    label,
    lowerInCanonical,
    parse(r, w, ctx) {
      Name.parseInto(r.next(label).text, ctx.origin, w);
    },
    format: (d) => d.name().toString(),
    skip: (d) => d.skipName(),
  };
}

const ADDRESS = new Uint8Array(16);

export function ipv4(label = 'IPv4 address'): Field {
  return {
    label,
    parse(r, w) {
      parseIpv4Into(r.next(label).text, ADDRESS);
      w.prefix(ADDRESS, 4);
    },
    format: (d) => formatIpv4(d.bytes(4, label)),
  };
}

export function ipv6(label = 'IPv6 address'): Field {
  return {
    label,
    parse(r, w) {
      ADDRESS.fill(0);
      parseIpv6Into(r.next(label).text, ADDRESS);
      w.prefix(ADDRESS, 16);
    },
    format: (d) => formatIpv6(d.bytes(16, label)),
  };
}

function writeCharString(w: ByteWriter, text: string, label: string): void {
  const octets = unescapeText(text);
  if (octets.length > 255) throw new ValueError(`${label}: character-string over 255 octets (${octets.length})`);
  w.u8(octets.length);
  w.latin1(octets);
}

function readCharString(d: ByteReader, label: string): string {
  const len = d.u8(label);
  return quoteText(d.bytes(len, label));
}

/** One <character-string> (RFC 1035 section 3.3). */
export function charString(label: string): Field {
  return {
    label,
    parse: (r, w) => writeCharString(w, r.next(label).text, label),
    format: (d) => readCharString(d, label),
  };
}

/** One or more <character-string>s to the end of the RDATA (TXT, SPF). */
export function charStrings(label: string): Field {
  return {
    label,
    parse(r, w) {
      const tokens = r.rest();
      if (tokens.length === 0) throw new ValueError(`missing ${label}`);
      for (const t of tokens) {
        r.current = t;
        writeCharString(w, t.text, label);
      }
    },
    format(d) {
      const parts: string[] = [];
      do parts.push(readCharString(d, label));
      while (d.remaining > 0);
      return parts.join(' ');
    },
  };
}

/** Octets to the end of the RDATA, written as one (quoted) string: URI target, CAA value. */
export function octetsToEnd(label: string): Field {
  return {
    label,
    parse(r, w) {
      w.latin1(unescapeText(r.next(label).text));
    },
    format: (d) => quoteText(d.rest()),
  };
}

function joinRest(r: RdataTokens, label: string, min: number): string {
  const tokens = r.rest();
  const text = tokens.map((t) => t.text).join('');
  if (text.length === 0 && min > 0) throw new ValueError(`missing ${label}`);
  return text;
}

/** Hex octets to the end of the RDATA; white space between tokens is allowed. */
export function hexToEnd(label: string, min = 1): Field {
  return {
    label,
    parse(r, w) {
      const text = joinRest(r, label, min);
      if (!/^([0-9a-fA-F]{2})*$/.test(text)) throw new ValueError(`${label}: not an even number of hex digits`);
      w.bytes(Buffer.from(text, 'hex'));
    },
    format(d) {
      const b = d.rest();
      if (b.length < min) throw new WireFormatError(`${label}: missing`, d.pos);
      return toHex(b);
    },
  };
}

/** Base64 octets to the end of the RDATA; white space between tokens is allowed. */
export function base64ToEnd(label: string, min = 1): Field {
  return {
    label,
    parse(r, w) {
      const text = joinRest(r, label, min);
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
        throw new ValueError(`${label}: not valid base64`);
      }
      const bytes = Buffer.from(text, 'base64');
      if (bytes.length < min) throw new ValueError(`missing ${label}`);
      w.bytes(bytes);
    },
    format(d) {
      const b = d.rest();
      if (b.length < min) throw new WireFormatError(`${label}: missing`, d.pos);
      return toBase64(b);
    },
  };
}

/** An NSEC3 salt: one length octet, then hex; `-` is the empty salt (RFC 5155 section 3.3). */
export function salt(label = 'salt'): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      if (t === '-') {
        w.u8(0);
        return;
      }
      if (!/^([0-9a-fA-F]{2})+$/.test(t)) throw new ValueError(`${label}: ${quote(t)} is not hex or '-'`);
      if (t.length / 2 > 255) throw new ValueError(`${label}: over 255 octets`);
      w.u8(t.length / 2);
      w.bytes(Buffer.from(t, 'hex'));
    },
    format(d) {
      const len = d.u8(label);
      return len === 0 ? '-' : toHex(d.bytes(len, label));
    },
  };
}

/** The NSEC3 next hashed owner: one length octet, then Base32hex without padding. */
export function hashedOwner(label = 'next hashed owner name'): Field {
  return {
    label,
    parse(r, w) {
      const bytes = decodeBase32Hex(r.next(label).text);
      if (bytes.length === 0 || bytes.length > 255) throw new ValueError(`${label}: length ${bytes.length} out of range`);
      w.u8(bytes.length);
      w.bytes(bytes);
    },
    format(d) {
      const len = d.u8(label);
      if (len === 0) throw new WireFormatError(`${label}: empty`, d.pos);
      return encodeBase32Hex(d.bytes(len, label));
    },
  };
}

/** The NSEC/NSEC3/CSYNC type bitmap (RFC 4034 section 4.1.2), possibly empty. */
export function typeBitmap(label = 'type bitmap'): Field {
  return {
    label,
    parse(r, w) {
      const types = new Set<number>();
      for (const t of r.rest()) {
        r.current = t;
        const type = parseType(t.text);
        if (type === undefined) throw new ValueError(`${label}: unknown type ${quote(t.text)}`);
        types.add(type);
      }
      encodeTypeBitmap([...types], w);
    },
    format: (d) => decodeTypeBitmap(d).map(typeToString).join(' '),
  };
}

export function encodeTypeBitmap(types: readonly number[], w: ByteWriter): void {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  let i = 0;
  while (i < sorted.length) {
    const window = sorted[i]! >> 8;
    const bits = new Uint8Array(32);
    let maxOctet = 0;
    while (i < sorted.length && sorted[i]! >> 8 === window) {
      const low = sorted[i]! & 0xff;
      bits[low >> 3]! |= 0x80 >> (low & 7);
      maxOctet = low >> 3;
      i++;
    }
    w.u8(window);
    w.u8(maxOctet + 1);
    w.bytes(bits.subarray(0, maxOctet + 1));
  }
}

export function decodeTypeBitmap(d: ByteReader): number[] {
  const types: number[] = [];
  let lastWindow = -1;
  while (d.remaining > 0) {
    const at = d.pos;
    const window = d.u8('bitmap window');
    const len = d.u8('bitmap length');
    if (window <= lastWindow) throw new WireFormatError('type bitmap windows out of order', at);
    if (len < 1 || len > 32) throw new WireFormatError(`type bitmap length ${len} out of range`, at);
    const bits = d.bytes(len, 'bitmap');
    if (bits[len - 1] === 0) throw new WireFormatError('type bitmap has a trailing zero octet', at);
    for (let o = 0; o < len; o++) {
      for (let b = 0; b < 8; b++) if (bits[o]! & (0x80 >> b)) types.push((window << 8) | (o * 8 + b));
    }
    lastWindow = window;
  }
  return types;
}

/** RRSIG type covered: a type mnemonic. */
export function typeCovered(label = 'type covered'): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      const type = parseType(t);
      if (type === undefined) throw new ValueError(`${label}: unknown type ${quote(t)}`);
      w.u16(type);
    },
    format: (d) => typeToString(d.u16(label)),
  };
}

/** RRSIG times: YYYYMMDDHHmmSS (UTC) or seconds since the epoch (RFC 4034 section 3.2). */
export function time32(label: string): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(t);
      if (m) {
        const [, y, mo, da, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
        // Date.UTC reads a year below 100 as 19yy: the year is set on its own
        const back = new Date(Date.UTC(2000, 0, 1, h, mi, s));
        back.setUTCFullYear(y, mo - 1, da);
        const ms = back.getTime();
        if (mo < 1 || mo > 12 || back.getUTCDate() !== da || h > 23 || mi > 59 || s > 59) {
          throw new ValueError(`${label}: ${quote(t)} is not a valid time`);
        }
        w.u32((ms / 1000) % 2 ** 32);
      } else {
        w.u32(parseDecimal(t, 0xffffffff, label));
      }
    },
    format: (d) => formatTime32(d.u32(label)),
  };
}

export function formatTime32(seconds: number): string {
  // a signed zone holds a handful of distinct times in a million RRSIGs: remember the last two
  if (seconds === lastTimes[0]) return lastTexts[0]!;
  if (seconds === lastTimes[1]) return lastTexts[1]!;
  const text = new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  lastTimes[1] = lastTimes[0]!;
  lastTexts[1] = lastTexts[0]!;
  lastTimes[0] = seconds;
  lastTexts[0] = text;
  return text;
}
const lastTimes = [-1, -1];
const lastTexts = ['', ''];

/** The CAA tag: letters and digits, 1 to 255 octets, with a length octet. */
export function caaTag(label = 'tag'): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      if (!/^[A-Za-z0-9]{1,255}$/.test(t)) throw new ValueError(`${label}: ${quote(t)} must be letters and digits`);
      w.u8(t.length);
      w.latin1(t);
    },
    format(d) {
      const len = d.u8(label);
      const tag = Buffer.from(d.bytes(len, label)).toString('latin1');
      if (!/^[A-Za-z0-9]{1,255}$/.test(tag)) throw new WireFormatError(`${label}: bad CAA tag`, d.pos);
      return tag;
    },
  };
}

/** EUI-48 or EUI-64: hex pairs joined by '-' (RFC 7043). */
export function eui(octets: 6 | 8): Field {
  const label = `EUI-${octets * 8} address`;
  const re = new RegExp(`^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){${octets - 1}}$`);
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      if (!re.test(t)) throw new ValueError(`${label}: ${quote(t)} is not ${octets} hex pairs joined by '-'`);
      w.bytes(Buffer.from(t.replace(/-/g, ''), 'hex'));
    },
    format: (d) =>
      toHex(d.bytes(octets, label))
        .toLowerCase()
        .replace(/(..)(?!$)/g, '$1-'),
  };
}

/** A 64-bit ILNP locator or node ID: four groups of up to four hex digits (RFC 6742). */
export function ilnp64(label: string): Field {
  return {
    label,
    parse(r, w) {
      const t = r.next(label).text;
      if (!/^[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){3}$/.test(t)) throw new ValueError(`${label}: ${quote(t)} is not four hex groups`);
      for (const g of t.split(':')) w.u16(parseInt(g, 16));
    },
    format(d) {
      const groups: string[] = [];
      for (let i = 0; i < 4; i++) groups.push(d.u16(label).toString(16).padStart(4, '0'));
      return groups.join(':');
    },
  };
}
