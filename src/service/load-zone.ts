import { SignerError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import type { Rr } from '../zone/zone.js';
import { DEFAULT_ZONE_INPUT_LIMITS, PAUSE, ZoneFileParser, type ZoneInputLimits, type ZoneRecord } from '../dns/zonefile/parser.js';
import { includeRelativeToFile, openZoneFile } from '../storage/zone-files.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';

/** Records to leave out of a zone as it is read, and records to add. */
export interface ZoneEdit {
  readonly drop: (owner: Name, type: number) => boolean;
  readonly add: readonly (Rr & { readonly owner: Name; readonly type: number })[];
}

/** hms's own signed files: no limit on their size (signatures make them several times the input's). */
export const SIGNED_FILE_LIMITS: ZoneInputLimits = { ...DEFAULT_ZONE_INPUT_LIMITS, maxOctets: Number.POSITIVE_INFINITY };

/** Reads a zone file (following `$INCLUDE`s) into a zone snapshot; throws ZoneSyntaxError. */
export function loadZoneFile(path: string, origin: Name, edit?: ZoneEdit, limits: ZoneInputLimits = DEFAULT_ZONE_INPUT_LIMITS): Zone {
  const builder = new ZoneBuilder(origin);
  for (const record of edit?.add ?? []) builder.add(record);
  const parser = openParser(path, origin, limits);
  try {
    for (let record = parser.next(); record !== undefined; record = parser.next()) if (edit?.drop(record.owner, record.type) !== true) builder.add(record);
  } finally {
    parser.close();
  }
  return builder.freeze();
}

/** How an asynchronous read goes: who sees each record, and the limits of the input. */
export interface ReadOptions {
  /** Sees each record as it is read (`hms sign`: signatures are asked for meanwhile, see Presigner). */
  readonly observe?: (record: ZoneRecord) => void;
  readonly limits?: ZoneInputLimits;
  /** Records between two turns of the event loop at most. */
  readonly pause?: number;
}

/**
 * As loadZoneFile, letting the event loop turn every `pause` records and after each chunk of
 * text read (at most 1 MiB and one record between two turns, whatever the file holds: long
 * comments, directives, or records), so that reading one zone's input never stalls the rest
 * of the service: the answers to secondaries, the other zones, a SIGTERM.
 */
export async function readZoneFile(path: string, origin: Name, options: ReadOptions = {}): Promise<Zone> {
  const builder = new ZoneBuilder(origin);
  const parser = openParser(path, origin, options.limits ?? DEFAULT_ZONE_INPUT_LIMITS);
  const pause = options.pause ?? 1000;
  try {
    let count = 0;
    for (;;) {
      const record = parser.nextOrPause();
      if (record === undefined) break;
      if (record === PAUSE || ++count % pause === 0) await new Promise((resolve) => setImmediate(resolve));
      if (record === PAUSE) continue;
      builder.add(record);
      options.observe?.(record);
    }
  } finally {
    parser.close();
  }
  return builder.freeze();
}

function openParser(path: string, origin: Name, limits: ZoneInputLimits): ZoneFileParser {
  let source;
  try {
    source = openZoneFile(path);
  } catch (e) {
    // openZoneFile's own errors name the file already (IO, INPUT_REFUSED)
    if (e instanceof SignerError) throw e;
    const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new SignerError('IO', `${path}: cannot read the zone file (${reason})`, { cause: e });
  }
  return new ZoneFileParser(source, { origin, include: includeRelativeToFile, limits });
}

/** A zone read earlier, with an edit applied as loadZoneFile applies it while reading. */
export function editZone(zone: Zone, edit: ZoneEdit): Zone {
  const builder = new ZoneBuilder(zone.origin);
  for (const record of edit.add) builder.add(record);
  for (const node of zone.nodes) {
    for (const set of node.rrsets) {
      if (edit.drop(set.owner, set.type)) continue;
      for (const r of set.records) builder.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: r.file, line: r.line });
    }
  }
  return builder.freeze();
}
