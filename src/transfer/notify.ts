import { performance } from 'node:perf_hooks';
import type { UnixSeconds } from '../common/clock.js';
import { SignerError, TransferError } from '../common/errors.js';
import type { RunSlots } from '../common/run-slots.js';
import { query, type Server, type SourceAddresses } from './client.js';
import { Opcode, Rcode } from '../dns/message.js';
import type { Name } from '../dns/name.js';
import { serialGreater } from '../dns/serial.js';
import type { TsigKey } from '../dns/tsig.js';
import { RRType } from '../dns/types.js';
import { soaSerial, type DiffRecord } from '../zone/diff.js';

/** A secondary to tell of a new version: where it listens and the key it shares with us. */
export interface Secondary extends Server {
  readonly key: TsigKey;
}

/** What the sender reports: Knot-style `msg` ("notify, <event>") and the facts, for pino. */
export interface NotifyEvent {
  readonly msg: string;
  readonly zone: string;
  readonly secondary: string;
  readonly key: string;
  /** The serial announced. */
  readonly serial: number;
  readonly attempt?: number;
  /** The serial the secondary was seen to serve. */
  readonly seenSerial?: number;
  readonly lagMs?: number;
  readonly reason?: string;
}

/** How one secondary took the news. */
export interface SecondaryReport {
  /** `address#port`. */
  readonly secondary: string;
  readonly key: string;
  /** It answered a NOTIFY (NOTIFY response, same ID, NOERROR, TSIG good). */
  readonly isAcknowledged: boolean;
  readonly notifyTries: number;
  /** The last serial seen in its SOA answer, if any came. */
  readonly serial?: number;
  /** It serves the new serial (or a later one). */
  readonly isCurrent: boolean;
  /** From the first NOTIFY to the SOA answer with the new serial. */
  readonly lagMs?: number;
  /** What went wrong on the way, each reason once, in order. */
  readonly errors: readonly string[];
}

export interface NotifyOptions {
  /** NOTIFY attempts per secondary (default 5). */
  readonly tries?: number;
  /** The wait after the first failed attempt, doubled after each (default 1 s, RFC 1996 section 3.6). */
  readonly retryDelayMs?: number;
  /** The longest wait between attempts (default 30 s). */
  readonly maxRetryDelayMs?: number;
  /** The wait for each answer, NOTIFY or SOA (default 2 s). */
  readonly timeoutMs?: number;
  /** How long after the NOTIFYs the SOA serial is checked before giving up (default 60 s). */
  readonly checkDeadlineMs?: number;
  /** The wait between SOA checks (default 1 s). */
  readonly checkIntervalMs?: number;
  /** The clock for TSIG (default the system's). */
  readonly now?: () => UnixSeconds;
  /** A monotonic clock in milliseconds (default `performance.now`); tests pass a fake one with `sleep`. */
  readonly elapsedMs?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: (event: NotifyEvent) => void;
  /** Called with each secondary's report as soon as it is known. */
  readonly onReport?: (report: SecondaryReport) => void;
  /** Stops the retries and the checks (a service shutting down): the reports say how far they got. */
  readonly signal?: AbortSignal;
  /** The addresses the NOTIFYs and SOA queries leave from (default: the kernel chooses). */
  readonly source?: SourceAddresses;
  /**
   * Shared by every announcement of a service, one per secondary: how many NOTIFY and SOA
   * queries are out to it at once (each holds a socket until answered or timed out); the
   * others wait their turn.
   */
  readonly slots?: (secondary: Secondary) => RunSlots;
}

/** The settings with their defaults filled in. */
type Settings = Required<Omit<NotifyOptions, 'log' | 'onReport' | 'signal' | 'source' | 'slots'>> &
  Pick<NotifyOptions, 'log' | 'onReport' | 'signal' | 'source' | 'slots'>;

/**
 * Tells every secondary that a zone has a new version (RFC 1996): a TSIG-signed NOTIFY with the
 * new SOA in its answer section, retried with doubling waits until the secondary acknowledges
 * it or the tries run out; then asks its SOA (TSIG-signed) until it serves the new serial or the
 * deadline passes. The secondaries are worked on side by side; the promise resolves with one
 * report each, in the order given, and never rejects for a secondary's failure.
 */
export async function notifySecondaries(
  origin: Name,
  soa: DiffRecord,
  secondaries: readonly Secondary[],
  options: NotifyOptions = {},
): Promise<SecondaryReport[]> {
  const settings: Settings = {
    tries: options.tries ?? 5,
    retryDelayMs: options.retryDelayMs ?? 1000,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
    timeoutMs: options.timeoutMs ?? 2000,
    checkDeadlineMs: options.checkDeadlineMs ?? 60_000,
    checkIntervalMs: options.checkIntervalMs ?? 1000,
    now: options.now ?? (() => Math.floor(Date.now() / 1000)),
    elapsedMs: options.elapsedMs ?? (() => performance.now()),
    sleep: options.sleep ?? ((ms) => abortableSleep(ms, options.signal)),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.onReport === undefined ? {} : { onReport: options.onReport }),
    source: options.source,
    slots: options.slots,
  };
  return Promise.all(
    secondaries.map(async (s) => {
      const report = await notifyOne(origin, soa, s, settings);
      settings.onReport?.(report);
      return report;
    }),
  );
}

/** One secondary: NOTIFY until acknowledged, then the serial check. */
async function notifyOne(origin: Name, soa: DiffRecord, secondary: Secondary, settings: Settings): Promise<SecondaryReport> {
  const serial = soaSerial(soa.rdata);
  const facts = { zone: origin.toString(), secondary: `${secondary.address}#${secondary.port}`, key: secondary.key.name.toString(), serial };
  const log = (event: Omit<NotifyEvent, keyof typeof facts>): void => settings.log?.({ ...facts, ...event });
  const errors = new Set<string>();
  const started = settings.elapsedMs();
  let tries = 0;
  let isAcknowledged = false;
  for (
    let delay = settings.retryDelayMs;
    tries < settings.tries && !isAcknowledged && settings.signal?.aborted !== true;
    delay = Math.min(delay * 2, settings.maxRetryDelayMs)
  ) {
    tries++;
    const failure = await sendNotify(origin, soa, secondary, settings);
    if (failure === undefined) {
      isAcknowledged = true;
      log({ msg: 'notify, acknowledged', attempt: tries });
      break;
    }
    errors.add(`NOTIFY: ${failure}`);
    if (tries === settings.tries) {
      log({ msg: 'notify, gave up', attempt: tries, reason: failure });
      break;
    }
    log({ msg: 'notify, not acknowledged, retrying', attempt: tries, reason: failure });
    await settings.sleep(delay);
  }
  const check = await checkSerial(origin, serial, secondary, settings, errors);
  const report = {
    secondary: facts.secondary,
    key: facts.key,
    isAcknowledged,
    notifyTries: tries,
    ...(check.seen === undefined ? {} : { serial: check.seen }),
    isCurrent: check.isCurrent,
    errors: [...errors],
  };
  if (!check.isCurrent) {
    log({ msg: 'notify, secondary behind', ...(check.seen === undefined ? {} : { seenSerial: check.seen }), reason: [...errors].at(-1) ?? 'deadline passed' });
    return report;
  }
  const lagMs = Math.round(settings.elapsedMs() - started);
  log({ msg: 'notify, secondary current', seenSerial: check.seen!, lagMs });
  return { ...report, lagMs };
}

/** One NOTIFY; undefined when it is acknowledged, else why not. */
async function sendNotify(origin: Name, soa: DiffRecord, secondary: Secondary, settings: Settings): Promise<string | undefined> {
  try {
    const answer = await inTurn(settings, secondary, () =>
      query(
        secondary,
        { name: origin, type: RRType.SOA, class: 1 },
        {
          opcode: Opcode.NOTIFY,
          authoritative: true,
          answers: [soa],
          tsig: secondary.key,
          timeoutMs: settings.timeoutMs,
          now: settings.now,
          source: settings.source,
        },
      ),
    );
    const { header } = answer.decoded;
    if (header.opcode !== Opcode.NOTIFY) return `answered with opcode ${header.opcode}, not NOTIFY`;
    if (header.rcode !== Rcode.NOERROR) return `answered with rcode ${header.rcode}`;
    return undefined;
  } catch (e) {
    if (e instanceof SignerError) return e.message;
    throw e;
  }
}

/** Asks the secondary's SOA until it has `serial` (or later) or the deadline passes. */
async function checkSerial(
  origin: Name,
  serial: number,
  secondary: Secondary,
  settings: Settings,
  errors: Set<string>,
): Promise<{ seen?: number; isCurrent: boolean }> {
  const deadline = settings.elapsedMs() + settings.checkDeadlineMs;
  let seen: number | undefined;
  for (;;) {
    try {
      const answer = await inTurn(settings, secondary, () =>
        query(
          secondary,
          { name: origin, type: RRType.SOA, class: 1 },
          { tsig: secondary.key, timeoutMs: settings.timeoutMs, now: settings.now, source: settings.source },
        ),
      );
      const { header, records } = answer.decoded;
      const soa = records.slice(0, header.ancount).find((r) => r.type === RRType.SOA && r.owner.equals(origin));
      if (soa === undefined || soa.rdata.length < 22) errors.add(`SOA query: answered with rcode ${header.rcode} and no SOA`);
      else {
        seen = soaSerial(soa.rdata);
        if (seen === serial || serialGreater(seen, serial)) return { seen, isCurrent: true };
      }
    } catch (e) {
      if (!(e instanceof SignerError)) throw e;
      errors.add(`SOA query: ${e.message}`);
    }
    if (settings.elapsedMs() >= deadline || settings.signal?.aborted === true) return { ...(seen === undefined ? {} : { seen }), isCurrent: false };
    await settings.sleep(settings.checkIntervalMs);
  }
}

/** A query to `secondary` in its turn among the service's (`slots`), or at once. */
function inTurn<T>(settings: Settings, secondary: Secondary, ask: () => Promise<T>): Promise<T> {
  if (settings.slots === undefined) return ask();
  // a query whose turn comes after the stop is not sent: a stop does not wait for the queue
  return settings
    .slots(secondary)
    .run(() => (settings.signal?.aborted === true ? Promise.reject(new TransferError('not sent: the service is stopping')) : ask()));
}

/** A wait that ends early when `signal` aborts. */
function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
