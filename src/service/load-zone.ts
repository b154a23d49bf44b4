import { SignerError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import type { Rr } from '../zone/zone.js';
import { ZoneFileParser, type ZoneRecord } from '../dns/zonefile/parser.js';
import { includeRelativeToFile, openZoneFile } from '../storage/zone-files.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';

/** Records to leave out of a zone as it is read, and records to add. */
export interface ZoneEdit {
  readonly drop: (owner: Name, type: number) => boolean;
  readonly add: readonly (Rr & { readonly owner: Name; readonly type: number })[];
}

/** Reads a zone file (following `$INCLUDE`s) into a zone snapshot; throws ZoneSyntaxError. */
export function loadZoneFile(path: string, origin: Name, edit?: ZoneEdit): Zone {
  const builder = new ZoneBuilder(origin);
  for (const record of edit?.add ?? []) builder.add(record);
  const parser = openParser(path, origin);
  try {
    for (let record = parser.next(); record !== undefined; record = parser.next()) if (edit?.drop(record.owner, record.type) !== true) builder.add(record);
  } finally {
    parser.close();
  }
  return builder.freeze();
}

/**
 * As loadZoneFile, showing each record to `observe` as it is read, and letting the event
 * loop turn every `pause` records (`hms sign`: signatures made meanwhile come back, and
 * the signing threads get more work; see Presigner).
 */
export async function readZoneFile(path: string, origin: Name, observe: (record: ZoneRecord) => void, pause = 1000): Promise<Zone> {
  const builder = new ZoneBuilder(origin);
  const parser = openParser(path, origin);
  try {
    let count = 0;
    for (let record = parser.next(); record !== undefined; record = parser.next()) {
      builder.add(record);
      observe(record);
      if (++count % pause === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    parser.close();
  }
  return builder.freeze();
}

function openParser(path: string, origin: Name): ZoneFileParser {
  let source;
  try {
    source = openZoneFile(path);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new SignerError('IO', `${path}: cannot read the zone file (${reason})`, { cause: e });
  }
  return new ZoneFileParser(source, { origin, include: includeRelativeToFile });
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
