import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import type { UnixSeconds } from '../common/clock.js';
import { TransferError, WireFormatError } from '../common/errors.js';
import { ByteWriter } from '../dns/bytes.js';
import { decodeMessage, Opcode, writeQuestion, writeRecord, type DecodedMessage, type OutRecord, type Question } from '../dns/message.js';
import { signMessage, TsigRcode, verifyMessage, type TsigKey, type TsigRecord, type TsigStatus, type TsigVerifyOptions } from '../dns/tsig.js';

/** A server to ask: an IP address and a port. */
export interface Server {
  readonly address: string;
  readonly port: number;
}

/**
 * The local addresses requests leave from, one per address family (the port is any free one).
 * A family left out, or no source at all: the kernel chooses by its routes.
 */
export interface SourceAddresses {
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface QueryOptions {
  /** QUERY (default) or NOTIFY. */
  readonly opcode?: number;
  /** Records for the answer section (a NOTIFY may carry the new SOA, RFC 1996 section 3.7). */
  readonly answers?: readonly OutRecord[];
  /** Records for the authority section (an IXFR request carries the SOA it has, RFC 1995 section 3). */
  readonly authority?: readonly OutRecord[];
  readonly recursionDesired?: boolean;
  /** Set the AA bit (a NOTIFY from the zone's primary, RFC 1996 section 3.7). */
  readonly authoritative?: boolean;
  /** With DNSSEC OK (an EDNS OPT record with the DO bit, RFC 4035 section 3.2.1). */
  readonly dnssecOk?: boolean;
  /** Set the CD bit: a validating resolver answers without validating (RFC 4035 section 3.2.2). */
  readonly checkingDisabled?: boolean;
  /** Sign the request, and require a response signed by the same key. */
  readonly tsig?: TsigKey;
  /** Ask over TCP from the start (otherwise UDP, and TCP again when the answer is truncated). */
  readonly tcp?: boolean;
  /** Send from the address of the server's family here (a secondary may take NOTIFY only from its primary's address). */
  readonly source?: SourceAddresses;
  readonly timeoutMs?: number;
  /** The clock for TSIG (default the system's). */
  readonly now?: () => UnixSeconds;
  /**
   * Take a TSIG-signed answer whose Time Signed is outside the fudge (its MAC still checked):
   * the monitor reads the server's clock from it (DP-2.9e).
   */
  readonly anyTime?: boolean;
}

/** An answer: the raw message and what it says. */
export interface Answer {
  readonly message: Uint8Array;
  readonly decoded: DecodedMessage;
  readonly transport: 'udp' | 'tcp';
  /** The answer's TSIG record, when the request was signed. */
  readonly tsig?: TsigRecord;
}

const systemNow = (): UnixSeconds => Math.floor(Date.now() / 1000);

/** Writes a request: one question, then the given records, then the EDNS OPT record if asked. */
export function encodeRequest(id: number, question: Question, options: QueryOptions = {}): Uint8Array {
  const w = new ByteWriter(512);
  const answers = options.answers ?? [];
  const authority = options.authority ?? [];
  const additional = options.dnssecOk === true ? 1 : 0;
  w.u16(id);
  w.u16(
    (((options.opcode ?? Opcode.QUERY) & 0xf) << 11) |
      (options.authoritative === true ? 0x0400 : 0) |
      (options.recursionDesired === true ? 0x0100 : 0) |
      (options.checkingDisabled === true ? 0x0010 : 0),
  );
  w.u16(1);
  w.u16(answers.length);
  w.u16(authority.length);
  w.u16(additional);
  writeQuestion(w, question);
  for (const rr of [...answers, ...authority]) writeRecord(w, rr);
  if (options.dnssecOk === true) {
    // OPT: root owner, type 41, class = UDP payload size, TTL = extended rcode/version/flags (DO = 0x8000)
    w.u8(0);
    w.u16(41);
    w.u16(1232);
    w.u32(0x8000);
    w.u16(0);
  }
  return w.finish();
}

/** A request with a fresh random ID, TSIG-signed when a key is given (its MAC is what the answer chains from). */
function newRequest(question: Question, options: QueryOptions, now: () => UnixSeconds): { id: number; request: Uint8Array; mac: Uint8Array | undefined } {
  const id = randomInt(0, 0x10000);
  const request = encodeRequest(id, question, options);
  if (options.tsig === undefined) return { id, request, mac: undefined };
  const signed = signMessage(request, options.tsig, { now: now() });
  return { id, request: signed.message, mac: signed.mac };
}

/**
 * Asks one server one question and returns its answer (RFC 1035 section 4.2: UDP, then TCP
 * when the answer is truncated). With a TSIG key the request is signed and an answer that is
 * not signed by the same key, or whose MAC is wrong, is an error. Every wait is bounded.
 */
export async function query(server: Server, question: Question, options: QueryOptions = {}): Promise<Answer> {
  const now = options.now ?? systemNow;
  const { id, request, mac: requestMac } = newRequest(question, options, now);
  const timeoutMs = options.timeoutMs ?? 3000;
  const local = sourceFor(server, options.source);
  let transport: 'udp' | 'tcp' = options.tcp === true ? 'tcp' : 'udp';
  let message =
    transport === 'udp' ? await udpExchange(server, local, request, id, timeoutMs) : (await tcpExchange(server, local, request, timeoutMs, () => false))[0]!;
  if (transport === 'udp' && (message[2]! & 0x02) !== 0) {
    transport = 'tcp';
    message = (await tcpExchange(server, local, request, timeoutMs, () => false))[0]!;
  }
  const { decoded, tsig } = check(server, message, id, options.tsig, requestMac, now, options.anyTime === true);
  return { message, decoded, transport, ...(tsig === undefined ? {} : { tsig }) };
}

/**
 * Reads a multi-message answer over TCP (AXFR, IXFR: RFC 5936 section 2.2), calling `more`
 * with each message (decoded, and as received) until it returns false. With TSIG every message's MAC is checked,
 * each chained to the one before (RFC 8945 section 5.3.1): up to 99 messages in a row may go
 * unsigned, covered by the next MAC, and the last must be signed.
 */
export async function transferStream(
  server: Server,
  question: Question,
  more: (decoded: DecodedMessage, index: number, message: Uint8Array) => boolean,
  options: QueryOptions = {},
): Promise<DecodedMessage[]> {
  const now = options.now ?? systemNow;
  const fresh = newRequest(question, options, now);
  const { id, request } = fresh;
  let mac = fresh.mac;
  const out: DecodedMessage[] = [];
  let unsigned: Uint8Array[] = [];
  await tcpExchange(server, sourceFor(server, options.source), request, options.timeoutMs ?? 30_000, (message) => {
    const tsig = options.tsig;
    let decoded: DecodedMessage;
    if (tsig === undefined) decoded = checked(server, message, id);
    else {
      const v = safeVerify(server, message, tsig, {
        now: now(),
        ...(mac === undefined ? {} : { priorMac: mac }),
        isTimersOnly: out.length > 0,
        unsignedBefore: unsigned,
      });
      decoded = v.decoded;
      if (decoded.header.id !== id) throw new TransferError(`${where(server)}: answer with the wrong message ID`);
      if (v.mac !== undefined) {
        mac = v.mac;
        unsigned = [];
      } else if (out.length === 0) throw new TransferError(`${where(server)}: the first message of the answer is not TSIG-signed`);
      else if (unsigned.push(message) > MAX_UNSIGNED) throw new TransferError(`${where(server)}: more than ${MAX_UNSIGNED} messages in a row not TSIG-signed`);
    }
    out.push(decoded);
    const go = more(decoded, out.length - 1, message);
    // RFC 8945 section 5.3.1: the last message must be signed, or the end could be forged
    if (!go && unsigned.length > 0) throw new TransferError(`${where(server)}: the last message of the answer is not TSIG-signed`);
    return go;
  });
  return out;
}

/** RFC 8945 section 5.3.1: a client gives up after this many unsigned messages in a row. */
const MAX_UNSIGNED = 99;

function where(server: Server): string {
  return isIP(server.address) === 6 ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`;
}

/** The source address for a request to `server`: the one of its family, if set. */
function sourceFor(server: Server, source: SourceAddresses | undefined): string | undefined {
  return isIP(server.address) === 6 ? source?.ipv6 : source?.ipv4;
}

/** A socket's error as a TransferError naming the server; a source address that cannot be bound is named too. */
function socketError(server: Server, local: string | undefined, e: NodeJS.ErrnoException): TransferError {
  if (e.syscall === 'bind' && local !== undefined) {
    const why = e.code === 'EADDRNOTAVAIL' ? 'EADDRNOTAVAIL: not an address of this host' : (e.code ?? e.message);
    return new TransferError(`${where(server)}: cannot send from the source address ${local} (${why})`, { cause: e });
  }
  return new TransferError(`${where(server)}: ${e.message}`, { cause: e });
}

function checked(server: Server, message: Uint8Array, id: number): DecodedMessage {
  let decoded: DecodedMessage;
  try {
    decoded = decodeMessage(message);
  } catch (e) {
    if (e instanceof WireFormatError) throw new TransferError(`${where(server)}: malformed answer: ${e.message}`, { cause: e });
    throw e;
  }
  if (decoded.header.id !== id || !decoded.header.isResponse) throw new TransferError(`${where(server)}: answer with the wrong message ID`);
  return decoded;
}

function safeVerify(
  server: Server,
  message: Uint8Array,
  key: TsigKey,
  options: TsigVerifyOptions,
  anyTime = false,
): { decoded: DecodedMessage; mac?: Uint8Array; tsig?: TsigRecord } {
  let v;
  try {
    v = verifyMessage(message, (name) => (name.equals(key.name) ? key : undefined), options);
  } catch (e) {
    if (e instanceof WireFormatError) throw new TransferError(`${where(server)}: malformed answer: ${e.message}`, { cause: e });
    throw e;
  }
  if (v === undefined) {
    // RFC 8945 section 5.3.1: later messages of a stream may go unsigned (up to 99 in a row)
    if (options.isTimersOnly === true) return { decoded: checked(server, message, (message[0]! << 8) | message[1]!) };
    const decoded = checked(server, message, (message[0]! << 8) | message[1]!);
    throw new TransferError(`${where(server)}: the answer (rcode ${decoded.header.rcode}) is not TSIG-signed`);
  }
  if (v.status !== 'ok' && !(anyTime && v.status === 'BADTIME')) throw new TransferError(`${where(server)}: ${tsigRefusal(v.status, v.tsig?.error ?? 0, key)}`);
  return { decoded: v.decoded, mac: v.tsig!.mac, tsig: v.tsig! };
}

/**
 * Why a TSIG exchange failed, for a person: the server's own refusal (the TSIG error it
 * answered with, RFC 8945 section 5.3.2) says what it found wrong with our request; else our
 * check of its answer failed.
 */
export function tsigRefusal(status: TsigStatus, serverError: number, key: TsigKey): string {
  const k = `key ${key.name.toString()} (${key.algorithm})`;
  switch (serverError) {
    case 0:
      break;
    case TsigRcode.BADSIG:
      return `the server refused our TSIG with BADSIG (16): our MAC does not check there, so its secret for ${k} differs from ours`;
    case TsigRcode.BADKEY:
      return `the server refused our TSIG with BADKEY (17): it does not know ${k} (check the key's name and algorithm on both sides)`;
    case TsigRcode.BADTIME:
      return `the server refused our TSIG with BADTIME (18): its clock and ours differ by more than the fudge (check NTP on both)`;
    default:
      return `the server refused our TSIG with error ${serverError}`;
  }
  switch (status) {
    case 'BADSIG':
      return `the answer's TSIG is BADSIG: its MAC does not check with ${k} (a different secret there, or the answer was changed on its way)`;
    case 'BADKEY':
      return `the answer's TSIG is BADKEY: it is signed with a key other than ${k}`;
    case 'BADTIME':
      return `the answer's TSIG is BADTIME: it was signed outside the fudge of our clock (check NTP on both)`;
    default:
      return `the answer's TSIG is ${status}`;
  }
}

function check(
  server: Server,
  message: Uint8Array,
  id: number,
  key: TsigKey | undefined,
  requestMac: Uint8Array | undefined,
  now: () => UnixSeconds,
  anyTime: boolean,
): { decoded: DecodedMessage; tsig?: TsigRecord } {
  if (key === undefined) return { decoded: checked(server, message, id) };
  const { decoded, tsig } = safeVerify(server, message, key, { now: now(), ...(requestMac === undefined ? {} : { priorMac: requestMac }) }, anyTime);
  if (decoded.header.id !== id || !decoded.header.isResponse) throw new TransferError(`${where(server)}: answer with the wrong message ID`);
  return { decoded, ...(tsig === undefined ? {} : { tsig }) };
}

function udpExchange(server: Server, local: string | undefined, request: Uint8Array, id: number, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.address) === 6 ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(new TransferError(`${where(server)}: no answer over UDP within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error: Error | null, message?: Uint8Array): void => {
      clearTimeout(timer);
      socket.close();
      if (error !== null) reject(error);
      else resolve(message!);
    };
    socket.on('error', (e) => finish(socketError(server, local, e)));
    socket.on('message', (msg, rinfo) => {
      // an answer from elsewhere, or to another question, is ignored (RFC 5452 section 9.1)
      if (rinfo.port !== server.port || msg.length < 2 || msg.readUInt16BE(0) !== id) return;
      finish(null, new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
    });
    const send = (): void => socket.send(request, server.port, server.address);
    if (local === undefined) send();
    else socket.bind({ address: local, port: 0 }, send);
  });
}

/** Sends one request over TCP and reads framed messages while `more` says so. */
function tcpExchange(
  server: Server,
  local: string | undefined,
  request: Uint8Array,
  timeoutMs: number,
  more: (message: Uint8Array) => boolean,
): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const messages: Uint8Array[] = [];
    const socket = connect({ host: server.address, port: server.port, ...(local === undefined ? {} : { localAddress: local }) });
    let pending: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | null): void => {
      if (done) return;
      done = true;
      socket.destroy();
      if (error !== null) reject(error);
      else resolve(messages);
    };
    socket.setTimeout(timeoutMs, () => finish(new TransferError(`${where(server)}: TCP silent for ${timeoutMs} ms`)));
    socket.on('error', (e) => finish(socketError(server, local, e)));
    socket.on('close', () => finish(new TransferError(`${where(server)}: the connection closed before the answer was complete`)));
    socket.on('connect', () => {
      const frame = Buffer.allocUnsafe(2 + request.length);
      frame.writeUInt16BE(request.length, 0);
      frame.set(request, 2);
      socket.write(frame);
    });
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (!done && pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = new Uint8Array(pending.subarray(2, 2 + length));
        pending = pending.subarray(2 + length);
        messages.push(message);
        let go: boolean;
        try {
          go = more(message);
        } catch (e) {
          finish(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        if (!go) finish(null);
      }
    });
  });
}
