import { quote, ValueError } from '../common/errors.js';

/** The largest TTL RFC 2181 section 8 allows. */
export const MAX_TTL = 2 ** 31 - 1;

const UNIT_SECONDS: Readonly<Record<string, number>> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

/**
 * Reads a TTL: plain seconds, or BIND-style units (`1h30m`, `1D`, `2w`; case-insensitive).
 * Values above `max` (2^31-1 by default) are refused.
 */
export function parseTtl(text: string, max = MAX_TTL): number {
  let total: number;
  if (/^\d+$/.test(text)) {
    total = Number(text);
  } else {
    if (!/^(\d+[wdhmsWDHMS])+$/.test(text)) throw new ValueError(`${quote(text)} is not a TTL`);
    total = 0;
    for (const m of text.matchAll(/(\d+)([wdhmsWDHMS])/g)) {
      total += Number(m[1]) * UNIT_SECONDS[m[2]!.toLowerCase()]!;
    }
  }
  if (total > max) throw new ValueError(`TTL ${text} is over ${max === MAX_TTL ? '2^31-1' : String(max)}`);
  return total;
}

/** True when the text looks like a TTL (starts with a digit), so it is not a class or type. */
export function looksLikeTtl(text: string): boolean {
  const c = text.charCodeAt(0);
  return c >= 48 && c <= 57;
}
