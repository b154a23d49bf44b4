import { ValueError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import { serialGreater } from '../dns/serial.js';
import { RRType, typeToString } from '../dns/types.js';
import { soaSerial, type DiffRecord, type ZoneDiff } from '../zone/diff.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';

/** What a complete AXFR or IXFR response holds. */
export type TransferContents =
  /** The SOA alone: the asker is current (RFC 1995 section 4). */
  | { readonly kind: 'current'; readonly serial: number }
  /** The whole zone (an AXFR, or an IXFR answered as one). */
  | { readonly kind: 'zone'; readonly zone: Zone; readonly serial: number; readonly records: number }
  /** Diffs from the asker's serial (an incremental IXFR), oldest first. */
  | { readonly kind: 'diffs'; readonly diffs: readonly ZoneDiff[]; readonly serial: number; readonly records: number };

type State = 'first' | 'second' | 'zone' | 'deleting' | 'adding' | 'done';

/**
 * Reads the records of a zone-transfer response as they come (RFC 5936 section 2.2, RFC 1995
 * section 4), and says when the response is complete. An AXFR is the SOA, the zone, the SOA;
 * an IXFR is that, or the SOA alone, or the newest SOA then per version the old SOA, deletes,
 * the new SOA, adds, and the newest SOA to close. Anything else is a ValueError; `contents`
 * gives nothing before the response is complete, so a broken-off transfer never yields a
 * partial zone.
 */
export class TransferReader {
  private state: State = 'first';
  private final: DiffRecord | undefined;
  private builder: ZoneBuilder;
  private readonly diffs: { from: DiffRecord; to?: DiffRecord; deleted: DiffRecord[]; added: DiffRecord[] }[] = [];
  private count = 0;
  private result: TransferContents | undefined;

  /**
   * `asked` is the serial an IXFR was asked from (undefined for an AXFR); `where` names the
   * source in errors and in the records' file field ("AXFR from 192.0.2.1#53").
   */
  constructor(
    readonly origin: Name,
    private readonly asked: number | undefined,
    private readonly where: string,
  ) {
    this.builder = new ZoneBuilder(origin);
  }

  /** The response, once complete. */
  get contents(): TransferContents | undefined {
    return this.result;
  }

  /** Takes the answer records of the next message; true when the response is complete. */
  readMessage(records: readonly DiffRecord[]): boolean {
    for (const r of records) this.read(r);
    // an IXFR answered with the SOA alone, not newer than what the asker has: it is current
    if (this.state === 'second' && this.asked !== undefined && !serialGreater(this.serial, this.asked)) {
      this.state = 'done';
      this.result = { kind: 'current', serial: this.serial };
    }
    return this.result !== undefined;
  }

  private get serial(): number {
    return soaSerial(this.final!.rdata);
  }

  private fail(reason: string): never {
    throw new ValueError(`${this.where}: ${reason}`);
  }

  private read(r: DiffRecord): void {
    this.count++;
    if (!r.owner.isSubdomainOf(this.origin)) this.fail(`record ${this.count} (${r.owner.toString()}/${typeToString(r.type)}) is outside the zone`);
    const isSoa = r.type === RRType.SOA && r.owner.equals(this.origin);
    if (r.type === RRType.SOA && !isSoa) this.fail(`record ${this.count} is an SOA below the apex (${r.owner.toString()})`);
    switch (this.state) {
      case 'first':
        if (!isSoa) this.fail(`the response starts with ${r.owner.toString()}/${typeToString(r.type)}, not the zone's SOA`);
        this.final = r;
        this.state = 'second';
        return;
      case 'second':
        if (isSoa && this.asked !== undefined && soaSerial(r.rdata) !== this.serial) return this.startDiff(r);
        this.state = 'zone';
        return this.readZone(r, isSoa);
      case 'zone':
        return this.readZone(r, isSoa);
      case 'deleting':
        if (!isSoa) return void this.diffs.at(-1)!.deleted.push(r);
        this.diffs.at(-1)!.to = r;
        this.state = 'adding';
        return;
      case 'adding':
        if (!isSoa) return void this.diffs.at(-1)!.added.push(r);
        if (soaSerial(this.diffs.at(-1)!.to!.rdata) === this.serial) return this.finishDiffs(r);
        return this.startDiff(r);
      case 'done':
        this.fail(`record ${this.count} comes after the closing SOA`);
    }
  }

  /** A record of a whole zone; the SOA again closes it. */
  private readZone(r: DiffRecord, isSoa: boolean): void {
    if (!isSoa) {
      this.builder.add({ ...r, file: this.where, line: this.count });
      return;
    }
    if (soaSerial(r.rdata) !== this.serial) this.fail(`the closing SOA has serial ${soaSerial(r.rdata)}, the first had ${this.serial}`);
    this.builder.add({ ...this.final!, file: this.where, line: 1 });
    this.state = 'done';
    const zone = this.builder.freeze();
    this.result = { kind: 'zone', zone, serial: this.serial, records: zone.recordCount };
  }

  /** The old SOA of the next diff: it must follow on from the diff before. */
  private startDiff(r: DiffRecord): void {
    const previous = this.diffs.at(-1)?.to;
    const expected = previous === undefined ? this.asked! : soaSerial(previous.rdata);
    if (soaSerial(r.rdata) !== expected) this.fail(`a diff starts at serial ${soaSerial(r.rdata)}, expected ${expected}`);
    this.diffs.push({ from: r, deleted: [], added: [] });
    this.state = 'deleting';
  }

  private finishDiffs(closing: DiffRecord): void {
    if (soaSerial(closing.rdata) !== this.serial) this.fail(`the closing SOA has serial ${soaSerial(closing.rdata)}, the first had ${this.serial}`);
    this.state = 'done';
    const diffs = this.diffs.map((d) => ({ from: d.from, to: d.to!, deleted: d.deleted, added: d.added }));
    this.result = { kind: 'diffs', diffs, serial: this.serial, records: this.count };
  }
}
