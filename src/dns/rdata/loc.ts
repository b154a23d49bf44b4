import { quote, ValueError, WireFormatError } from '../../common/errors.js';
import { ByteReader } from '../bytes.js';
import type { RdataCodec } from './codec.js';
import type { RdataTokens, Token } from './tokens.js';

/**
 * LOC (RFC 1876): a location on the WGS 84 ellipsoid.
 *
 * Presentation: `d1 [m1 [s1]] {N|S} d2 [m2 [s2]] {E|W} alt[m] [siz[m] [hp[m] [vp[m]]]]`.
 * Wire: version (0), size, horizontal and vertical precision (each a mantissa in the high
 * nibble and a power of ten in the low nibble, in centimetres), then latitude and longitude
 * in thousandths of an arc second offset by 2^31, and altitude in centimetres above a base
 * 100000 m below the WGS 84 spheroid. Printed as BIND 9 prints it.
 */

const EQUATOR = 0x80000000;
const MS_PER_DEGREE = 3_600_000;
const ALTITUDE_BASE_CM = 10_000_000;
/** The highest altitude: 2^32 - 1 cm above the base. */
const ALTITUDE_MAX_CM = 0xffffffff - ALTITUDE_BASE_CM;
const PRECISION_MAX_M = 90_000_000;

const DEFAULT_SIZE = 0x12; // 1m
const DEFAULT_HP = 0x16; // 10000m
const DEFAULT_VP = 0x13; // 10m

interface Axis {
  readonly label: string;
  readonly positive: string;
  readonly negative: string;
  readonly maxDegrees: number;
}

const LATITUDE: Axis = { label: 'LOC latitude', positive: 'N', negative: 'S', maxDegrees: 90 };
const LONGITUDE: Axis = { label: 'LOC longitude', positive: 'E', negative: 'W', maxDegrees: 180 };

function direction(t: Token, axis: Axis): 1 | -1 | 0 {
  const d = t.quoted ? '' : t.text.toUpperCase();
  if (d === axis.positive) return 1;
  if (d === axis.negative) return -1;
  return 0;
}

function wholeNumber(t: Token, label: string, what: string): number {
  if (t.quoted || !/^\d+$/.test(t.text)) throw new ValueError(`${label}: ${what} ${quote(t.text)} is not a whole number`);
  return Number(t.text);
}

/** Seconds with up to three decimals, as thousandths. */
function seconds(t: Token, label: string): number {
  const m = t.quoted ? null : /^(\d*)(?:\.(\d*))?$/.exec(t.text);
  if (m === null || (m[1] === '' && (m[2] ?? '') === '')) {
    throw new ValueError(`${label}: seconds ${quote(t.text)} is not a number`);
  }
  const frac = m[2] ?? '';
  if (frac.length > 3) throw new ValueError(`${label}: seconds ${quote(t.text)} has more than 3 decimals`);
  const whole = Number(m[1] === '' ? '0' : m[1]);
  if (whole >= 60) throw new ValueError(`${label}: seconds ${quote(t.text)} must be below 60`);
  return whole * 1000 + Number(frac.padEnd(3, '0'));
}

/** Reads `d [m [s]] DIR`; returns the wire value (thousandths of a second, offset by 2^31). */
function parseCoordinate(r: RdataTokens, axis: Axis): number {
  const { label } = axis;
  const dTok = r.next(`${label} degrees`);
  const d = wholeNumber(dTok, label, 'degrees');
  if (d > axis.maxDegrees) throw new ValueError(`${label}: ${quote(dTok.text)} is over ${axis.maxDegrees} degrees`);
  let m = 0;
  let s = 0;
  let t = r.next(`${label} direction (${axis.positive} or ${axis.negative})`);
  let sign = direction(t, axis);
  if (sign === 0) {
    m = wholeNumber(t, label, 'minutes');
    if (m >= 60) throw new ValueError(`${label}: minutes ${quote(t.text)} must be below 60`);
    t = r.next(`${label} direction (${axis.positive} or ${axis.negative})`);
    sign = direction(t, axis);
    if (sign === 0) {
      s = seconds(t, label);
      t = r.next(`${label} direction (${axis.positive} or ${axis.negative})`);
      sign = direction(t, axis);
      if (sign === 0) {
        throw new ValueError(`${label}: ${quote(t.text)} is not a direction (${axis.positive} or ${axis.negative})`);
      }
    }
  }
  const ms = (d * 3600 + m * 60) * 1000 + s;
  if (ms > axis.maxDegrees * MS_PER_DEGREE) {
    throw new ValueError(`${label}: '${d} ${m} ${(s / 1000).toFixed(3)}' is over ${axis.maxDegrees} degrees`);
  }
  return EQUATOR + sign * ms;
}

/** `[-]m[.cc][m]` into a number of centimetres; `null` when not of that form. */
function metresToCm(text: string, decimals: number): { cm: number; negative: boolean } | null {
  const m = /^(-?)(\d*)(?:\.(\d*))?m?$/.exec(text);
  if (m === null) return null;
  const whole = m[2] ?? '';
  const frac = m[3] ?? '';
  if ((whole === '' && frac === '') || frac.length > decimals) return null;
  const wholeValue = whole === '' ? 0 : Number(whole);
  if (!Number.isSafeInteger(wholeValue * 100)) return { cm: Number.MAX_SAFE_INTEGER, negative: m[1] === '-' };
  return { cm: wholeValue * 100 + Number(frac.padEnd(2, '0')), negative: m[1] === '-' };
}

function parseAltitude(t: Token): number {
  const label = 'LOC altitude';
  const v = t.quoted ? null : metresToCm(t.text, 2);
  if (v === null) throw new ValueError(`${label}: ${quote(t.text)} is not a number of metres with up to 2 decimals`);
  if (v.negative) {
    if (v.cm > ALTITUDE_BASE_CM) throw new ValueError(`${label}: ${quote(t.text)} is below -100000m`);
    return ALTITUDE_BASE_CM - v.cm;
  }
  if (v.cm > ALTITUDE_MAX_CM) throw new ValueError(`${label}: ${quote(t.text)} is over 42849672.95m`);
  return ALTITUDE_BASE_CM + v.cm;
}

/** A size or precision in metres into the mantissa/exponent octet (truncating, as BIND does). */
function parsePrecision(t: Token, label: string): number {
  const v = t.quoted ? null : metresToCm(t.text, 2);
  if (v === null || v.negative) {
    throw new ValueError(`${label}: ${quote(t.text)} is not a number of metres with up to 2 decimals`);
  }
  if (v.cm > PRECISION_MAX_M * 100) throw new ValueError(`${label}: ${quote(t.text)} is over ${PRECISION_MAX_M}m`);
  if (v.cm === 0) return 0;
  let exp = 0;
  let man = v.cm;
  while (man >= 10) {
    man = Math.floor(man / 10);
    exp++;
  }
  return (man << 4) | exp;
}

function checkPrecision(b: number, label: string, at: number): void {
  const man = b >> 4;
  const exp = b & 0x0f;
  if (b !== 0 && (man === 0 || man > 9 || exp > 9)) {
    throw new WireFormatError(`LOC ${label}: 0x${b.toString(16).padStart(2, '0')} is not a valid mantissa and exponent`, at);
  }
}

function formatPrecision(b: number): string {
  const man = b >> 4;
  const exp = b & 0x0f;
  if (exp >= 2) return `${man * 10 ** (exp - 2)}m`;
  return `0.${String(man * 10 ** exp).padStart(2, '0')}m`;
}

function formatCoordinate(v: number, axis: Axis, at: number): string {
  const positive = v >= EQUATOR;
  const ms = positive ? v - EQUATOR : EQUATOR - v;
  if (ms > axis.maxDegrees * MS_PER_DEGREE) {
    throw new WireFormatError(`${axis.label}: ${v} is beyond ${axis.maxDegrees} degrees`, at);
  }
  const thousandths = ms % 1000;
  const totalSeconds = Math.floor(ms / 1000);
  const s = totalSeconds % 60;
  const m = Math.floor(totalSeconds / 60) % 60;
  const d = Math.floor(totalSeconds / 3600);
  const dir = positive ? axis.positive : axis.negative;
  return `${d} ${m} ${s}.${String(thousandths).padStart(3, '0')} ${dir}`;
}

function formatAltitude(v: number): string {
  const below = v < ALTITUDE_BASE_CM;
  const cm = below ? ALTITUDE_BASE_CM - v : v - ALTITUDE_BASE_CM;
  return `${below ? '-' : ''}${Math.floor(cm / 100)}.${String(cm % 100).padStart(2, '0')}m`;
}

export const locCodec: RdataCodec = {
  parse(r, _ctx, w) {
    const latitude = parseCoordinate(r, LATITUDE);
    const longitude = parseCoordinate(r, LONGITUDE);
    const altitude = parseAltitude(r.next('LOC altitude'));
    let size = DEFAULT_SIZE;
    let hp = DEFAULT_HP;
    let vp = DEFAULT_VP;
    if (!r.done) size = parsePrecision(r.next('LOC size'), 'LOC size');
    if (!r.done) hp = parsePrecision(r.next('LOC horizontal precision'), 'LOC horizontal precision');
    if (!r.done) vp = parsePrecision(r.next('LOC vertical precision'), 'LOC vertical precision');
    if (!r.done) throw new ValueError(`unexpected data after the LOC record (${quote(r.peek()?.text ?? '')})`);
    w.u8(0);
    w.u8(size);
    w.u8(hp);
    w.u8(vp);
    w.u32(latitude);
    w.u32(longitude);
    w.u32(altitude);
  },

  format(rdata) {
    const d = new ByteReader(rdata);
    const version = d.u8('LOC version');
    if (version !== 0) throw new WireFormatError(`LOC version ${version} is not 0`, 0);
    const size = d.u8('LOC size');
    const hp = d.u8('LOC horizontal precision');
    const vp = d.u8('LOC vertical precision');
    checkPrecision(size, 'size', 1);
    checkPrecision(hp, 'horizontal precision', 2);
    checkPrecision(vp, 'vertical precision', 3);
    const latitude = d.u32('LOC latitude');
    const longitude = d.u32('LOC longitude');
    const altitude = d.u32('LOC altitude');
    if (d.remaining !== 0) throw new WireFormatError(`${d.remaining} octets of trailing data after LOC`, d.pos);
    return [
      formatCoordinate(latitude, LATITUDE, 4),
      formatCoordinate(longitude, LONGITUDE, 8),
      formatAltitude(altitude),
      formatPrecision(size),
      formatPrecision(hp),
      formatPrecision(vp),
    ].join(' ');
  },

  canonical: (rdata) => rdata,
};
