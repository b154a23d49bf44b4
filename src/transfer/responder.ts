import type { UnixSeconds } from '../common/clock.js';
import { WireFormatError } from '../common/errors.js';
import {
  decodeHeader,
  encodeResponse,
  Opcode,
  Rcode,
  type DecodedMessage,
  type MessageHeader,
  type OutRecord,
  type Question,
  type ResponseHeader,
} from '../dns/message.js';
import type { Name } from '../dns/name.js';
import { appendUnsignedTsig, signMessage, timeOtherData, TsigRcode, verifyMessage, type TsigKey, type TsigRecord } from '../dns/tsig.js';
import { serialGreater } from '../dns/serial.js';
import { RRType } from '../dns/types.js';
import { soaRecord, soaSerial } from '../zone/diff.js';
import type { ZoneVersion } from '../zone/version.js';
import { axfrMessages, packMessages } from './axfr.js';
import { ixfrRecords, recordsWithin, requestedSerial, type IxfrSource } from './ixfr.js';

/** One secondary: the address it comes from and the TSIG key it must sign with (DP-3.2b, DP-3.5a). */
export interface AclEntry {
  /** A single IP address. */
  readonly address: string;
  /** The name of its TSIG key. */
  readonly key: string;
  /** The zones it may ask for (absolute names, lowercase); absent: every zone served. */
  readonly zones?: readonly string[];
  /** An upstream primary: it may send NOTIFY for its zones, and get nothing else. */
  readonly notifyOnly?: boolean;
}

export type Transport = 'udp' | 'tcp';

/** What the server reports: Knot-style `msg` ("transfer, <event>") and the facts. */
export interface TransferEvent {
  readonly msg: string;
  readonly peer: string;
  readonly transport: Transport;
  readonly zone?: string;
  readonly key?: string;
  readonly reason?: string;
  readonly messages?: number;
  /** The serial a secondary asked an IXFR from, and the one it was sent. */
  readonly fromSerial?: number;
  readonly serial?: number;
}

export interface ResponderOptions {
  /** The signed zone currently published under this name, if any. */
  readonly zones: (name: Name) => ZoneVersion | undefined;
  readonly keys: readonly TsigKey[];
  readonly acl: readonly AclEntry[];
  readonly now: () => UnixSeconds;
  readonly log?: (event: TransferEvent) => void;
  /** The diffs of a zone's signed versions, for IXFR (none: IXFR is answered with the whole zone). */
  readonly journal?: (name: Name) => IxfrSource | undefined;
  /** A NOTIFY was accepted (RFC 1996): an upstream primary has a new version of the zone. */
  readonly onNotify?: (zone: Name, peer: string, key: string) => void;
}

/** The request as far as the responder needs it once its TSIG is good. */
interface SignedRequest {
  readonly header: MessageHeader;
  readonly question: Question | undefined;
  readonly key: TsigKey;
  readonly tsig: TsigRecord;
  readonly decoded: DecodedMessage;
}

/**
 * The answers to one request, as wire messages (none: the request is dropped). Nobody gets
 * anything but the listed secondaries with their own keys; recursion is never offered.
 */
export function* respond(request: Uint8Array, peer: string, transport: Transport, options: ResponderOptions): Generator<Uint8Array, void, undefined> {
  const log: Log = (event) => options.log?.({ peer, transport, ...event });
  let header: MessageHeader;
  try {
    header = decodeHeader(request);
  } catch (e) {
    if (e instanceof WireFormatError) return log({ msg: 'transfer, dropped', reason: 'shorter than a header' });
    throw e;
  }
  if (header.isResponse) return log({ msg: 'transfer, dropped', reason: 'a response, not a request' });
  const bare = (rcode: number, question?: Question): Uint8Array =>
    encodeResponse({ id: header.id, opcode: header.opcode, rcode, isAuthoritative: false, isRecursionDesired: header.isRecursionDesired }, question, []);
  // DP-3.2b: an address that is not listed learns nothing, not even whether its TSIG was good
  if (!options.acl.some((a) => a.address === peer)) {
    log({ msg: 'transfer, refused', reason: 'address not listed' });
    return yield bare(Rcode.REFUSED);
  }
  const now = options.now();
  let verification;
  try {
    verification = verifyMessage(request, (name) => options.keys.find((k) => k.name.equals(name)), { now });
  } catch (e) {
    if (!(e instanceof WireFormatError)) throw e;
    log({ msg: 'transfer, malformed', reason: e.message });
    return yield bare(Rcode.FORMERR);
  }
  if (verification === undefined) {
    log({ msg: 'transfer, refused', reason: 'no TSIG' });
    return yield bare(Rcode.REFUSED);
  }
  const { status, tsig, key, decoded } = verification;
  const question = decoded.questions[0];
  if (status === 'FORMERR' || tsig === undefined) {
    log({ msg: 'transfer, malformed', reason: 'bad TSIG record' });
    return yield bare(Rcode.FORMERR, question);
  }
  const keyName = tsig.keyName.toString();
  if (status === 'BADKEY' || status === 'BADSIG') {
    // RFC 8945 section 5.2: NOTAUTH with the TSIG error, and no MAC (the key cannot be trusted)
    log({ msg: 'transfer, refused', key: keyName, reason: status });
    return yield appendUnsignedTsig(bare(Rcode.NOTAUTH, question), tsig, TsigRcode[status], now);
  }
  if (status === 'BADTIME') {
    // RFC 8945 section 5.2.3: signed, with the request's time and ours in Other Data
    log({ msg: 'transfer, refused', key: keyName, reason: `BADTIME (signed ${tsig.timeSigned}, now ${now}, fudge ${tsig.fudge})` });
    return yield signMessage(bare(Rcode.NOTAUTH, question), key!, {
      now,
      priorMac: tsig.mac,
      error: TsigRcode.BADTIME,
      timeSigned: tsig.timeSigned,
      fudge: tsig.fudge,
      otherData: timeOtherData(now),
    }).message;
  }
  const signed: SignedRequest = { header, question, key: key!, tsig, decoded };
  const entries = options.acl.filter((a) => a.address === peer && sameKey(a.key, key!.name));
  if (entries.length === 0) {
    log({ msg: 'transfer, refused', key: keyName, reason: 'key not listed for this address' });
    return yield signResponse(signed, bare(Rcode.REFUSED, question), now);
  }
  const zone = question?.name.toLowerCase().toString();
  const forZone = entries.filter((a) => a.zones === undefined || (zone !== undefined && a.zones.includes(zone)));
  const allowed = header.opcode === Opcode.NOTIFY ? forZone : forZone.filter((a) => a.notifyOnly !== true);
  if (allowed.length === 0) {
    log({ msg: 'transfer, refused', key: keyName, zone, reason: forZone.length === 0 ? 'zone not listed for this peer' : 'a primary may only send NOTIFY' });
    return yield signResponse(signed, bare(Rcode.REFUSED, question), now);
  }
  if (header.opcode === Opcode.NOTIFY && question !== undefined && allowed.every((a) => a.notifyOnly !== true)) {
    // a NOTIFY from one of our own secondaries is answered, and changes nothing
    return yield* answer(signed, transport, options, log);
  }
  if (header.opcode === Opcode.NOTIFY && question !== undefined) options.onNotify?.(question.name, peer, keyName);
  yield* answer(signed, transport, options, log);
}

function sameKey(text: string, name: Name): boolean {
  const a = text.toLowerCase().replace(/\.$/, '');
  const b = name.toString().toLowerCase().replace(/\.$/, '');
  return a === b;
}

function signResponse(request: SignedRequest, response: Uint8Array, now: UnixSeconds): Uint8Array {
  return signMessage(response, request.key, { now, priorMac: request.tsig.mac, fudge: request.tsig.fudge }).message;
}

/** Reports an event of one request (the peer and transport are filled in). */
type Log = (event: Omit<TransferEvent, 'peer' | 'transport'>) => void;

/** The answer to a good request from a listed peer: SOA, AXFR, IXFR or NOTIFY. */
function* answer(request: SignedRequest, transport: Transport, options: ResponderOptions, log: Log): Generator<Uint8Array, void, undefined> {
  const { header, question } = request;
  const key = request.key.name.toString();
  const now = options.now();
  const simple = (rcode: number, reason: string, answers: Parameters<typeof encodeResponse>[2] = []): Uint8Array => {
    if (rcode !== Rcode.NOERROR) log({ msg: 'transfer, refused', key, reason, ...(question ? { zone: question.name.toString() } : {}) });
    return signResponse(request, encodeResponse(replyHeader(request, rcode), question, answers), now);
  };
  if (header.qdcount !== 1 || question === undefined) return yield simple(Rcode.FORMERR, `${header.qdcount} questions`);
  if (header.opcode !== Opcode.QUERY && header.opcode !== Opcode.NOTIFY) return yield simple(Rcode.REFUSED, `opcode ${header.opcode}`);
  if (question.class !== 1) return yield simple(Rcode.REFUSED, `class ${question.class}`);
  const candidate = options.zones(question.name);
  const zone = candidate !== undefined && candidate.origin.equals(question.name) ? candidate : undefined;
  const zoneName = question.name.toString();
  if (header.opcode === Opcode.NOTIFY) {
    if (zone === undefined) return yield simple(Rcode.NOTAUTH, 'NOTIFY for a zone not served');
    log({ msg: 'transfer, notify answered', key, zone: zoneName });
    return yield simple(Rcode.NOERROR, '');
  }
  if (zone === undefined || zone.soa === undefined) {
    return yield simple(question.type === RRType.AXFR || question.type === RRType.IXFR ? Rcode.NOTAUTH : Rcode.REFUSED, 'zone not served');
  }
  const soa = soaRecord(zone);
  if (question.type === RRType.SOA) return yield simple(Rcode.NOERROR, '', [soa]);
  if (question.type === RRType.IXFR) return yield* answerIxfr(request, transport, zone, options, log);
  if (question.type !== RRType.AXFR) return yield simple(Rcode.REFUSED, `query type ${question.type}`);
  if (transport === 'udp') return yield simple(Rcode.REFUSED, 'AXFR over UDP');
  const count = yield* signStream(request, axfrMessages(zone, replyHeader(request, Rcode.NOERROR), question), options);
  log({ msg: 'transfer, AXFR sent', key, zone: zoneName, messages: count });
}

/** The header of a response to a request, with the AA bit on a good answer. */
function replyHeader(request: SignedRequest, rcode: number): ResponseHeader {
  const h = request.header;
  return { id: h.id, opcode: h.opcode, rcode, isAuthoritative: rcode === Rcode.NOERROR, isRecursionDesired: h.isRecursionDesired };
}

/**
 * Signs the messages of a response (RFC 5936, RFC 8945 section 5.3.1): every one signed, each
 * chained to the one before, the first to the request. Returns the number of messages.
 */
function* signStream(request: SignedRequest, messages: Iterable<Uint8Array>, options: ResponderOptions): Generator<Uint8Array, number, undefined> {
  let priorMac = request.tsig.mac;
  let count = 0;
  for (const unsigned of messages) {
    const signed = signMessage(unsigned, request.key, { now: options.now(), priorMac, isTimersOnly: count > 0, fudge: request.tsig.fudge });
    priorMac = signed.mac;
    count++;
    yield signed.message;
  }
  return count;
}

/** The largest UDP answer sent: RFC 1035's 512 octets (hms adds no EDNS to its answers). */
const UDP_LIMIT = 512;

/**
 * The answer to an IXFR (RFC 1995): the SOA alone when the secondary is current (or ahead);
 * the diffs from its serial when the journal has them, in one message over UDP if they fit
 * (section 2: the SOA alone otherwise, so that it asks again over TCP); the whole zone, as an
 * AXFR, over TCP when the journal does not reach back to its serial (section 4).
 */
function* answerIxfr(
  request: SignedRequest,
  transport: Transport,
  zone: ZoneVersion,
  options: ResponderOptions,
  log: Log,
): Generator<Uint8Array, void, undefined> {
  const question = request.question!;
  const facts = { key: request.key.name.toString(), zone: question.name.toString() };
  const soa = soaRecord(zone);
  const current = soaSerial(soa.rdata);
  const sign = (answers: readonly OutRecord[]): Uint8Array =>
    signResponse(request, encodeResponse(replyHeader(request, Rcode.NOERROR), question, answers), options.now());
  const from = requestedSerial(request.decoded, zone.origin);
  if (from === undefined) {
    log({ msg: 'transfer, malformed', ...facts, reason: 'IXFR without the SOA of the zone in its authority section' });
    return yield signResponse(request, encodeResponse(replyHeader(request, Rcode.FORMERR), question, []), options.now());
  }
  const serials = { fromSerial: from, serial: current };
  if (!serialGreater(current, from)) {
    log({ msg: 'transfer, IXFR up to date', ...facts, ...serials });
    return yield sign([soa]);
  }
  const diffs = options.journal?.(zone.origin)?.diffsFrom(from, current);
  if (transport === 'udp') {
    const records = diffs === undefined ? undefined : recordsWithin(ixfrRecords(soa, diffs), UDP_LIMIT);
    const whole = records === undefined ? undefined : sign(records);
    if (whole !== undefined && whole.length <= UDP_LIMIT) {
      log({ msg: 'transfer, IXFR sent', ...facts, ...serials, messages: 1 });
      return yield whole;
    }
    log({
      msg: 'transfer, IXFR over UDP answered with the SOA',
      ...facts,
      ...serials,
      reason: diffs === undefined ? 'no diffs from that serial' : 'the diffs do not fit',
    });
    return yield sign([soa]);
  }
  const header = replyHeader(request, Rcode.NOERROR);
  if (diffs === undefined) {
    const messages = yield* signStream(request, axfrMessages(zone, header, question), options);
    log({ msg: 'transfer, IXFR answered with the whole zone', ...facts, ...serials, messages, reason: 'the journal does not reach back to that serial' });
    return;
  }
  const messages = yield* signStream(request, packMessages(ixfrRecords(soa, diffs), header, question), options);
  log({ msg: 'transfer, IXFR sent', ...facts, ...serials, messages });
}
