import { quote, ValueError } from '../../common/errors.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUV';

/** Base32 with the extended hex alphabet, no padding (RFC 4648 section 7; RFC 5155 section 3.3). */
export function encodeBase32Hex(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

export function decodeBase32Hex(text: string): Uint8Array {
  const upper = text.toUpperCase();
  if (!/^[0-9A-V]*$/.test(upper)) throw new ValueError(`${quote(text)} is not base32hex`);
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const ch of upper) {
    buffer = (buffer << 5) | ALPHABET.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits >= 5 || buffer !== 0) throw new ValueError(`${quote(text)} has a bad base32hex length or padding bits`);
  return Uint8Array.from(out);
}
