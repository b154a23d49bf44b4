import { readFileSync } from 'node:fs';
import { SignerError, ValueError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import { serialGreater } from '../dns/serial.js';
import { diffZones, soaSerial, type ZoneDiff } from '../zone/diff.js';
import type { Zone } from '../zone/zone.js';
import { decodeJournal, encodeJournal, writeFileAtomically } from './journal-file.js';

/** How many versions' diffs a journal keeps unless told otherwise. */
export const DEFAULT_JOURNAL_VERSIONS = 30;

/** What a journal reports: Knot-style `msg` ("journal, <event>") and the facts. */
export interface JournalEvent {
  readonly msg: string;
  readonly zone: string;
  readonly file: string;
  readonly reason?: string;
  readonly versions?: number;
  readonly serial?: number;
}

export interface JournalOptions {
  /** The journal's file, in the state directory; written atomically after every change. */
  readonly file: string;
  readonly origin: Name;
  /** The number of diffs (versions back from the newest) kept; default 30. */
  readonly maxVersions?: number;
  readonly log?: (event: JournalEvent) => void;
}

/**
 * The diffs between successive signed versions of one zone, newest last (issue 5 item 4), for
 * IXFR (RFC 1995). It keeps a bounded number of them, in memory and in its file. A file that
 * cannot be read or is damaged is reported through `log` and the journal starts empty: IXFR
 * then falls back to a full transfer until new versions come.
 */
export class Journal {
  private diffs: readonly ZoneDiff[];
  readonly maxVersions: number;

  private constructor(private readonly options: JournalOptions, diffs: readonly ZoneDiff[]) {
    this.maxVersions = options.maxVersions ?? DEFAULT_JOURNAL_VERSIONS;
    if (!Number.isInteger(this.maxVersions) || this.maxVersions < 1) throw new ValueError(`journal ${options.file}: maxVersions must be a whole number of at least 1, not ${this.maxVersions}`);
    this.diffs = diffs.slice(-this.maxVersions);
  }

  /** Opens a zone's journal: what its file holds, or empty when there is none or it is bad. */
  static open(options: JournalOptions): Journal {
    return new Journal(options, loadDiffs(options));
  }

  /** The number of diffs held. */
  get size(): number {
    return this.diffs.length;
  }

  /** The oldest serial an IXFR can start from, and the newest it leads to (none when empty). */
  get serials(): { readonly oldest: number; readonly newest: number } | undefined {
    if (this.diffs.length === 0) return undefined;
    return { oldest: soaSerial(this.diffs[0]!.from.rdata), newest: soaSerial(this.diffs[this.diffs.length - 1]!.to.rdata) };
  }

  /**
   * Records the step from one signed version to the next and saves the journal. A diff that does
   * not start where the newest one ends (the zone was published past the journal) starts the
   * journal afresh. The oldest diffs beyond `maxVersions` are dropped. Throws an `IO`
   * SignerError when the file cannot be written; the journal is then left as it was.
   */
  add(diff: ZoneDiff): void {
    const from = soaSerial(diff.from.rdata);
    const to = soaSerial(diff.to.rdata);
    if (!serialGreater(to, from)) throw new ValueError(`journal ${this.options.file}: serial ${to} does not follow ${from} (RFC 1982)`);
    const newest = this.serials?.newest;
    let kept = this.diffs;
    if (newest !== undefined && newest !== from) {
      this.report({ msg: 'journal, restarted', reason: `the new version follows serial ${from}, the journal ends at ${newest}`, serial: to });
      kept = [];
    }
    const next = [...kept, diff].slice(-this.maxVersions);
    this.save(next);
    this.diffs = next;
  }

  /** Diffs two signed versions and records the step (see `add`). */
  addVersion(old: Zone, next: Zone): ZoneDiff {
    const diff = diffZones(old, next);
    this.add(diff);
    return diff;
  }

  /**
   * The diffs that take a secondary from `serial` to `current`, oldest first: empty when it is
   * current already, undefined when the journal does not reach back to `serial` or does not end
   * at `current` (the caller then sends the whole zone).
   */
  diffsFrom(serial: number, current: number): readonly ZoneDiff[] | undefined {
    if (serial === current) return [];
    if (this.serials?.newest !== current) return undefined;
    const start = this.diffs.findIndex((d) => soaSerial(d.from.rdata) === serial);
    return start < 0 ? undefined : this.diffs.slice(start);
  }

  private save(diffs: readonly ZoneDiff[]): void {
    try {
      writeFileAtomically(this.options.file, encodeJournal({ origin: this.options.origin, diffs }));
    } catch (e) {
      throw new SignerError('IO', `journal ${this.options.file}: cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`, { cause: e });
    }
  }

  private report(event: Omit<JournalEvent, 'zone' | 'file'>): void {
    this.options.log?.({ zone: this.options.origin.toString(), file: this.options.file, ...event });
  }
}

/** The diffs in a journal file; every way it can fail is reported and gives none. */
function loadDiffs(options: JournalOptions): readonly ZoneDiff[] {
  const report = (reason: string): readonly ZoneDiff[] => {
    options.log?.({ msg: 'journal, unreadable, starting empty', zone: options.origin.toString(), file: options.file, reason });
    return [];
  };
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(options.file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    return report(code ?? String(e));
  }
  let contents;
  try {
    contents = decodeJournal(bytes);
  } catch (e) {
    if (e instanceof SignerError) return report(e.message);
    throw e;
  }
  if (!contents.origin.equals(options.origin)) return report(`it is the journal of ${contents.origin.toString()}`);
  for (let i = 1; i < contents.diffs.length; i++) {
    if (soaSerial(contents.diffs[i]!.from.rdata) !== soaSerial(contents.diffs[i - 1]!.to.rdata)) return report(`diff ${i + 1} does not follow diff ${i}`);
  }
  options.log?.({ msg: 'journal, loaded', zone: options.origin.toString(), file: options.file, versions: contents.diffs.length });
  return contents.diffs;
}
