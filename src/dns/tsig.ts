import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Seconds, UnixSeconds } from '../common/clock.js';
import { TsigError, WireFormatError } from '../common/errors.js';
import { ByteReader, ByteWriter } from './bytes.js';
import { decodeMessage, HEADER_LENGTH, type DecodedMessage } from './message.js';
import { Name } from './name.js';
import { RRType } from './types.js';

/**
 * TSIG (RFC 8945): HMAC over the exact wire bytes of a message. Pure: the time is an argument.
 * Only HMAC-SHA algorithms exist here (DP-3.5b); HMAC-MD5 is refused (DP-3.5c, DP-4.2b).
 */
export const TSIG_ALGORITHMS = ['hmac-sha1', 'hmac-sha224', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;
export type TsigAlgorithm = (typeof TSIG_ALGORITHMS)[number];

export interface TsigKey {
  readonly name: Name;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Uint8Array;
}

/** TSIG error codes (RFC 8945 section 3; IANA "DNS RCODEs"). */
export const TsigRcode = { NOERROR: 0, BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;

/** The default fudge: RFC 8945 section 10 recommends 300 seconds. */
export const DEFAULT_FUDGE: Seconds = 300;

const HASH: Record<TsigAlgorithm, { readonly hash: string; readonly length: number }> = {
  'hmac-sha1': { hash: 'sha1', length: 20 },
  'hmac-sha224': { hash: 'sha224', length: 28 },
  'hmac-sha256': { hash: 'sha256', length: 32 },
  'hmac-sha384': { hash: 'sha384', length: 48 },
  'hmac-sha512': { hash: 'sha512', length: 64 },
};

/** The algorithm's name as a domain name on the wire (RFC 8945 section 6). */
export function tsigAlgorithmName(algorithm: TsigAlgorithm): Name {
  return Name.parse(`${algorithm}.`);
}

/** Reads an algorithm name (`hmac-sha256` or `hmac-sha256.`); refuses MD5 and the unknown. */
export function parseTsigAlgorithm(text: string): TsigAlgorithm {
  const lower = text.toLowerCase().replace(/\.$/, '');
  if (lower === 'hmac-md5' || lower === 'hmac-md5.sig-alg.reg.int') {
    throw new TsigError(`TSIG algorithm ${text} is refused: no HMAC-MD5 (DP-3.5c, DP-4.2b)`, { algorithm: text });
  }
  const known = TSIG_ALGORITHMS.find((a) => a === lower);
  if (known === undefined) throw new TsigError(`unknown TSIG algorithm ${text} (one of ${TSIG_ALGORITHMS.join(', ')})`, { algorithm: text });
  return known;
}

/** Makes a key from its configuration text: name, algorithm and the secret in base64. */
export function makeTsigKey(name: string, algorithm: string, secretBase64: string): TsigKey {
  const alg = parseTsigAlgorithm(algorithm);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secretBase64)) throw new TsigError(`TSIG key ${name}: the secret is not base64`, { key: name });
  const secret = Buffer.from(secretBase64, 'base64');
  if (secret.length === 0) throw new TsigError(`TSIG key ${name}: the secret is empty`, { key: name });
  return { name: Name.parse(name.endsWith('.') ? name : `${name}.`), algorithm: alg, secret };
}

/** The RDATA of a TSIG record, with its owner (the key name). */
export interface TsigRecord {
  readonly keyName: Name;
  readonly algorithm: Name;
  readonly timeSigned: UnixSeconds;
  readonly fudge: Seconds;
  readonly mac: Uint8Array;
  readonly originalId: number;
  readonly error: number;
  readonly otherData: Uint8Array;
}

/** What a MAC covers besides the message (RFC 8945 sections 4.3.2 and 5.3.1). */
export interface MacChain {
  /**
   * The MAC this one follows: the request's for a response, the previous message's for a
   * later message of a multi-message response. Absent for a request.
   */
  readonly priorMac?: Uint8Array;
  /**
   * The unsigned messages of a stream since the last signed one, as received: the next MAC
   * covers them too (RFC 8945 section 5.3.1).
   */
  readonly unsignedBefore?: readonly Uint8Array[];
  /** A later message of a multi-message response: only the timers are covered, not all variables. */
  readonly isTimersOnly?: boolean;
}

export interface TsigSignOptions extends MacChain {
  readonly now: UnixSeconds;
  readonly fudge?: Seconds;
  readonly error?: number;
  /** Other Data; with BADTIME it holds the server's time (RFC 8945 section 5.2.3). */
  readonly otherData?: Uint8Array;
  /** Time Signed, when not `now` (a BADTIME answer carries the request's time). */
  readonly timeSigned?: UnixSeconds;
}

/**
 * Signs a message: appends a TSIG record and adds one to ARCOUNT. Returns the signed message
 * and its MAC (what the next message of a stream, or a response, chains from).
 */
export function signMessage(message: Uint8Array, key: TsigKey, options: TsigSignOptions): { message: Uint8Array; mac: Uint8Array } {
  const record: Omit<TsigRecord, 'mac'> = {
    keyName: key.name,
    algorithm: tsigAlgorithmName(key.algorithm),
    timeSigned: options.timeSigned ?? options.now,
    fudge: options.fudge ?? DEFAULT_FUDGE,
    originalId: (message[0]! << 8) | message[1]!,
    error: options.error ?? TsigRcode.NOERROR,
    otherData: options.otherData ?? new Uint8Array(0),
  };
  const mac = computeMac(key, message, record, options);
  return { message: appendTsig(message, { ...record, mac }), mac };
}

/**
 * Appends an unsigned TSIG record (empty MAC): the answer to a request whose key is unknown
 * (BADKEY) or whose MAC is wrong (BADSIG), RFC 8945 section 5.2.
 */
export function appendUnsignedTsig(message: Uint8Array, request: TsigRecord, error: number, now: UnixSeconds): Uint8Array {
  return appendTsig(message, {
    ...request,
    timeSigned: now,
    mac: new Uint8Array(0),
    originalId: (message[0]! << 8) | message[1]!,
    error,
    otherData: new Uint8Array(0),
  });
}

export type TsigStatus = 'ok' | 'BADKEY' | 'BADSIG' | 'BADTIME' | 'FORMERR';

export interface TsigVerification {
  readonly status: TsigStatus;
  /** The TSIG record as read (absent when it could not be read: FORMERR). */
  readonly tsig?: TsigRecord;
  /** The key that matched the record's name and algorithm (absent for BADKEY). */
  readonly key?: TsigKey;
  /** The message as decoded, TSIG record included. */
  readonly decoded: DecodedMessage;
}

export interface TsigVerifyOptions extends MacChain {
  readonly now: UnixSeconds;
}

/**
 * Verifies the TSIG of a message. Returns undefined when the message has no TSIG record;
 * throws WireFormatError when the message itself is malformed. The MAC is checked before the
 * time (RFC 8945 section 5.2): a bad MAC is BADSIG whatever the time.
 */
export function verifyMessage(message: Uint8Array, findKey: (name: Name) => TsigKey | undefined, options: TsigVerifyOptions): TsigVerification | undefined {
  const decoded = decodeMessage(message);
  const records = decoded.records;
  const tsigAt = records.findIndex((r) => r.type === RRType.TSIG);
  if (tsigAt < 0) return undefined;
  const rr = records[tsigAt]!;
  // the TSIG record must be the last of the additional section, and the only one
  if (tsigAt !== records.length - 1 || decoded.header.arcount === 0 || rr.class !== 255 || rr.ttl !== 0) return { status: 'FORMERR', decoded };
  let tsig: TsigRecord;
  try {
    tsig = decodeTsigRdata(rr.owner, rr.rdata);
  } catch (e) {
    if (e instanceof WireFormatError) return { status: 'FORMERR', decoded };
    throw e;
  }
  const key = findKey(tsig.keyName);
  if (key === undefined || !key.name.equals(tsig.keyName) || !tsigAlgorithmName(key.algorithm).equals(tsig.algorithm)) {
    return { status: 'BADKEY', tsig, decoded };
  }
  const full = HASH[key.algorithm].length;
  const size = tsig.mac.length;
  // RFC 8945 section 5.2.2.1: a MAC may be truncated, never below 10 octets or half the hash
  if (size > full || size < Math.max(10, Math.ceil(full / 2))) return { status: size === 0 ? 'BADSIG' : 'FORMERR', tsig, key, decoded };
  const unsigned = message.subarray(0, rr.start);
  const expected = computeMac(key, unsigned, tsig, options, decoded.header.arcount - 1);
  if (!timingSafeEqual(expected.subarray(0, size), tsig.mac)) return { status: 'BADSIG', tsig, key, decoded };
  if (Math.abs(options.now - tsig.timeSigned) > tsig.fudge) return { status: 'BADTIME', tsig, key, decoded };
  return { status: 'ok', tsig, key, decoded };
}

/** Reads TSIG RDATA (RFC 8945 section 4.2). */
export function decodeTsigRdata(keyName: Name, rdata: Uint8Array): TsigRecord {
  const r = new ByteReader(rdata);
  const algorithm = r.name();
  const timeSigned = r.u16('Time Signed') * 0x100000000 + r.u32('Time Signed');
  const fudge = r.u16('Fudge');
  const mac = r.bytes(r.u16('MAC Size'), 'MAC');
  const originalId = r.u16('Original ID');
  const error = r.u16('Error');
  const otherData = r.bytes(r.u16('Other Len'), 'Other Data');
  if (r.remaining !== 0) throw new WireFormatError(`${r.remaining} octet(s) after the TSIG RDATA`, r.pos);
  return { keyName, algorithm, timeSigned, fudge, mac, originalId, error, otherData };
}

/** The MAC of a message without its TSIG record (`arcount` as it is with the record left out). */
function computeMac(key: TsigKey, message: Uint8Array, t: Omit<TsigRecord, 'mac'>, chain: MacChain, arcount?: number): Buffer {
  const hmac = createHmac(HASH[key.algorithm].hash, key.secret);
  const w = new ByteWriter(128);
  if (chain.priorMac !== undefined) {
    w.u16(chain.priorMac.length);
    w.bytes(chain.priorMac);
    hmac.update(w.view());
    w.reset();
  }
  for (const m of chain.unsignedBefore ?? []) hmac.update(m);
  // the header as it was before the TSIG record was added: the original ID, one record fewer
  const header = Buffer.from(message.subarray(0, HEADER_LENGTH));
  header.writeUInt16BE(t.originalId, 0);
  if (arcount !== undefined) header.writeUInt16BE(arcount, 10);
  hmac.update(header);
  hmac.update(message.subarray(HEADER_LENGTH));
  if (!chain.isTimersOnly) {
    w.name(t.keyName.toLowerCase());
    w.u16(255);
    w.u32(0);
    w.name(t.algorithm.toLowerCase());
  }
  writeTime(w, t.timeSigned);
  w.u16(t.fudge);
  if (!chain.isTimersOnly) {
    w.u16(t.error);
    w.u16(t.otherData.length);
    w.bytes(t.otherData);
  }
  hmac.update(w.view());
  return hmac.digest();
}

function writeTime(w: ByteWriter, t: UnixSeconds): void {
  w.u16(Math.floor(t / 0x100000000) & 0xffff);
  w.u32(t >>> 0);
}

/** Appends a TSIG record and bumps ARCOUNT. */
function appendTsig(message: Uint8Array, t: TsigRecord): Uint8Array {
  const w = new ByteWriter(message.length + 128);
  w.bytes(message);
  const arcount = (message[10]! << 8) | message[11]!;
  if (arcount === 0xffff) throw new WireFormatError('ARCOUNT is full: no room for a TSIG record', 10);
  w.setU16(10, arcount + 1);
  w.name(t.keyName);
  w.u16(RRType.TSIG);
  w.u16(255);
  w.u32(0);
  const lengthAt = w.length;
  w.u16(0);
  w.name(t.algorithm.toLowerCase());
  writeTime(w, t.timeSigned);
  w.u16(t.fudge);
  w.u16(t.mac.length);
  w.bytes(t.mac);
  w.u16(t.originalId);
  w.u16(t.error);
  w.u16(t.otherData.length);
  w.bytes(t.otherData);
  w.setU16(lengthAt, w.length - lengthAt - 2);
  return w.finish();
}

/** Other Data of a BADTIME answer: the server's time, 48 bits (RFC 8945 section 5.2.3). */
export function timeOtherData(now: UnixSeconds): Uint8Array {
  const w = new ByteWriter(6);
  writeTime(w, now);
  return w.finish();
}
