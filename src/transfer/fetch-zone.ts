import type { UnixSeconds } from '../common/clock.js';
import { SignerError, TransferError, ValueError } from '../common/errors.js';
import { query, transferStream, type Server, type SourceAddresses } from './client.js';
import { Rcode, uncompressedRdata, type DecodedMessage } from '../dns/message.js';
import type { Name } from '../dns/name.js';
import { serialGreater } from '../dns/serial.js';
import type { TsigKey } from '../dns/tsig.js';
import { RRType } from '../dns/types.js';
import { applyDiffs, soaRecord, soaSerial, type DiffRecord } from '../zone/diff.js';
import type { Zone } from '../zone/zone.js';
import { TransferReader, type TransferContents } from './transfer-reader.js';

/** What the inbound side reports: Knot-style `msg` ("inbound, <event>") and the facts. */
export interface FetchEvent {
  readonly msg: string;
  readonly zone: string;
  readonly primary: string;
  readonly serial?: number;
  readonly fromSerial?: number;
  readonly method?: 'AXFR' | 'IXFR';
  readonly messages?: number;
  readonly reason?: string;
}

export interface FetchOptions {
  /** The key every message to and from the primary is signed with (DP-3.5a). */
  readonly tsig: TsigKey;
  /** The serial held now (default `current`'s); the zone is fetched only when the primary's is newer. */
  readonly currentSerial?: number;
  /** The zone held now: with it, an IXFR is asked for and its diffs applied to it. */
  readonly current?: Zone;
  /** The bound on each wait: the SOA answer, and the silence between messages (default 30 s). */
  readonly timeoutMs?: number;
  /** The clock for TSIG (default the system's). */
  readonly now?: () => UnixSeconds;
  /** The addresses the SOA query and the transfer leave from (default: the kernel chooses). */
  readonly source?: SourceAddresses;
  readonly log?: (event: FetchEvent) => void;
}

/**
 * The outcome: the zone held is current, or a new zone, with how it came: `IXFR` when diffs were
 * applied, `AXFR` when the whole zone came (asked for, or in answer to an IXFR).
 */
export type FetchResult =
  | { readonly status: 'unchanged'; readonly serial: number }
  | { readonly status: 'transferred'; readonly zone: Zone; readonly serial: number; readonly method: 'AXFR' | 'IXFR'; readonly messages: number };

/**
 * Brings a zone in from its upstream primary (issue 5 item 2): asks for the SOA and stops when
 * the primary's serial is not newer (RFC 1982) than ours; then asks for an IXFR from our
 * version when we hold one (RFC 1995), else an AXFR (RFC 5936). Every message is TSIG-checked.
 * The unsigned zone comes back whole or not at all: a transfer that breaks off, is malformed or
 * fails TSIG is a TransferError naming the primary and the reason. Diffs that do not apply to
 * our version are reported and the whole zone asked for instead.
 */
export async function fetchZone(primary: Server, origin: Name, options: FetchOptions): Promise<FetchResult> {
  const where = `${primary.address}#${primary.port}`;
  const log = (event: Omit<FetchEvent, 'zone' | 'primary'>): void => options.log?.({ zone: origin.toString(), primary: where, ...event });
  const have = options.currentSerial ?? (options.current === undefined ? undefined : soaSerial(soaRecord(options.current).rdata));
  const serial = await primarySerial(primary, origin, options);
  if (have !== undefined && !serialGreater(serial, have)) {
    log({ msg: 'inbound, zone is up to date', serial });
    return { status: 'unchanged', serial: have };
  }
  if (options.current !== undefined) {
    const got = await transfer(primary, origin, 'IXFR', options);
    if (got.contents.kind === 'current') return { status: 'unchanged', serial: got.contents.serial };
    // the primary may answer an IXFR with the whole zone (RFC 1995 section 4): that counts as an AXFR
    if (got.contents.kind === 'zone') return finish(got.contents.zone, got.contents.serial, 'AXFR', got.messages, log);
    try {
      const zone = applyDiffs(options.current, got.contents.diffs, `IXFR from ${where}`);
      return finish(zone, got.contents.serial, 'IXFR', got.messages, log);
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      log({ msg: 'inbound, IXFR does not apply, asking for AXFR', reason: e.message });
    }
  }
  const got = await transfer(primary, origin, 'AXFR', options);
  if (got.contents.kind !== 'zone') throw new TransferError(`${where}: zone ${origin.toString()}: the AXFR answer is not a whole zone`);
  return finish(got.contents.zone, got.contents.serial, 'AXFR', got.messages, log);
}

function finish(zone: Zone, serial: number, method: 'AXFR' | 'IXFR', messages: number, log: (e: Omit<FetchEvent, 'zone' | 'primary'>) => void): FetchResult {
  log({ msg: `inbound, ${method} finished`, serial, method, messages });
  return { status: 'transferred', zone, serial, method, messages };
}

/** The primary's SOA serial, asked with TSIG (UDP, TCP when truncated). */
async function primarySerial(primary: Server, origin: Name, options: FetchOptions): Promise<number> {
  const where = `${primary.address}#${primary.port}`;
  const answer = await query(
    primary,
    { name: origin, type: RRType.SOA, class: 1 },
    {
      tsig: options.tsig,
      timeoutMs: Math.min(options.timeoutMs ?? 30_000, 5000),
      ...(options.now === undefined ? {} : { now: options.now }),
      source: options.source,
    },
  );
  const { header, records } = answer.decoded;
  if (header.rcode !== Rcode.NOERROR)
    throw new TransferError(`${where}: zone ${origin.toString()}: the SOA query was answered with ${rcodeName(header.rcode)}`);
  const soa = records.slice(0, header.ancount).find((r) => r.type === RRType.SOA && r.owner.equals(origin));
  if (soa === undefined || soa.rdata.length < 22) throw new TransferError(`${where}: zone ${origin.toString()}: no SOA in the answer`);
  return soaSerial(soa.rdata);
}

/** One AXFR or IXFR, read to its end; errors become TransferErrors naming the primary. */
async function transfer(
  primary: Server,
  origin: Name,
  method: 'AXFR' | 'IXFR',
  options: FetchOptions,
): Promise<{ contents: TransferContents; messages: number }> {
  const where = `${primary.address}#${primary.port}`;
  const asked = method === 'IXFR' ? soaRecord(options.current!) : undefined;
  const reader = new TransferReader(origin, asked === undefined ? undefined : soaSerial(asked.rdata), `${method} from ${where}`);
  let messages;
  try {
    messages = await transferStream(
      primary,
      { name: origin, type: method === 'IXFR' ? RRType.IXFR : RRType.AXFR, class: 1 },
      (decoded, index, message) => {
        if (decoded.header.rcode !== Rcode.NOERROR) throw new ValueError(`${method} from ${where}: answered with ${rcodeName(decoded.header.rcode)}`);
        return !reader.readMessage(answerRecords(decoded, message));
      },
      {
        tsig: options.tsig,
        ...(asked === undefined ? {} : { authority: [asked] }),
        timeoutMs: options.timeoutMs ?? 30_000,
        ...(options.now === undefined ? {} : { now: options.now }),
        source: options.source,
      },
    );
  } catch (e) {
    if (e instanceof TransferError) throw new TransferError(`zone ${origin.toString()}: ${method} failed: ${e.message}`, { cause: e });
    if (e instanceof SignerError) throw new TransferError(`${where}: zone ${origin.toString()}: ${e.message}`, { cause: e });
    throw e;
  }
  return { contents: reader.contents!, messages: messages.length };
}

/** The answer-section records of a message, class IN, their names written out in full. */
function answerRecords(decoded: DecodedMessage, message: Uint8Array): DiffRecord[] {
  return decoded.records.slice(0, decoded.header.ancount).map((r, i) => {
    if (r.class !== 1) throw new ValueError(`record ${i + 1} of a message has class ${r.class}, not IN`);
    return { owner: r.owner, type: r.type, ttl: r.ttl, rdata: uncompressedRdata(message, r) };
  });
}

const RCODE_NAMES = new Map<number, string>(Object.entries(Rcode).map(([k, v]) => [v, k]));

function rcodeName(rcode: number): string {
  return RCODE_NAMES.get(rcode) ?? `RCODE ${rcode}`;
}
