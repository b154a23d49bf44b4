import { quote, ValueError } from '../../common/errors.js';

/** Dotted-quad IPv4, as inet_pton reads it: four decimals 0-255, no leading zeros. */
export function parseIpv4(text: string): Uint8Array {
  const out = new Uint8Array(4);
  parseIpv4Into(text, out);
  return out;
}

/** As parseIpv4, into the first four octets of `out` (no allocation). */
export function parseIpv4Into(text: string, out: Uint8Array): void {
  if (!readIpv4(text, 0, text.length, out, 0)) throw new ValueError(`${quote(text)} is not an IPv4 address`);
}

/** Reads a dotted quad from text[start, end) into out[at..at+4); false when it is not one. */
function readIpv4(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[at + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (value > 255) return false;
      digits++;
    } else {
      return false;
    }
  }
  return part === 4;
}

export function formatIpv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 in any RFC 4291 text form, with `::` and a trailing dotted quad. */
export function parseIpv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  parseIpv6Into(text, out);
  return out;
}

/** As parseIpv6, into the first sixteen octets of `out`, which must be zero (no allocation). */
export function parseIpv6Into(text: string, out: Uint8Array): Uint8Array {
  const bad = (): never => {
    throw new ValueError(`${quote(text)} is not an IPv6 address`);
  };
  const n = text.length;
  let i = 0;
  let groups = 0;
  let gap = -1;
  if (n >= 2 && text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) bad();
    gap = 0;
    i = 2;
    if (i === n) return out;
  }
  for (;;) {
    // one group, or a dotted quad at the end
    const start = i;
    let value = 0;
    while (i < n && i - start < 5) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      value = (value << 4) | h;
      i++;
    }
    if (i < n && text.charCodeAt(i) === 0x2e) {
      if (groups > 6 || !readIpv4(text, start, n, out, groups * 2)) bad();
      groups += 2;
      break;
    }
    if (i === start || i - start > 4 || groups >= 8) bad();
    out[groups * 2] = value >> 8;
    out[groups * 2 + 1] = value & 0xff;
    groups++;
    if (i === n) break;
    if (text.charCodeAt(i) !== 0x3a) bad();
    i++;
    if (i < n && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) bad();
      gap = groups;
      i++;
      if (i === n) break;
    } else if (i === n) {
      bad();
    }
  }
  if (gap < 0) {
    if (groups !== 8) bad();
    return out;
  }
  if (groups > 7) bad();
  // move the groups after the gap to the end
  const tail = (groups - gap) * 2;
  out.copyWithin(16 - tail, gap * 2, groups * 2);
  out.fill(0, gap * 2, 16 - tail);
  return out;
}

/** RFC 5952 text form: lowercase, the longest run of two or more zero groups as `::`, mapped IPv4 dotted. */
export function formatIpv6(b: Uint8Array): string {
  // RFC 5952 section 5: IPv4-mapped addresses keep the dotted quad
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${formatIpv4(b.subarray(12))}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[2 * i]! << 8) | b[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
