import { SignerError } from '../common/errors.js';
import type { Name } from '../dns/name.js';
import { ZoneFileParser } from '../dns/zonefile/parser.js';
import { includeRelativeToFile, openZoneFile } from '../storage/zone-files.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';

/** Reads a zone file (following `$INCLUDE`s) into a zone snapshot; throws ZoneSyntaxError. */
export function loadZoneFile(path: string, origin: Name): Zone {
  const builder = new ZoneBuilder(origin);
  let source;
  try {
    source = openZoneFile(path);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new SignerError('IO', `${path}: cannot read the zone file (${reason})`, { cause: e });
  }
  const parser = new ZoneFileParser(source, { origin, include: includeRelativeToFile });
  try {
    for (let record = parser.next(); record !== undefined; record = parser.next()) builder.add(record);
  } finally {
    parser.close();
  }
  return builder.freeze();
}
