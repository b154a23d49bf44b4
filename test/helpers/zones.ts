import { Name } from '../../src/dns/name.js';
import { memoryIncludes, textSource } from '../../src/dns/zonefile/memory-source.js';
import { parseZoneFile } from '../../src/dns/zonefile/parser.js';
import { ZoneBuilder, type Zone } from '../../src/zone/zone.js';

/** A zone from lines of zone-file text (relative names are under `origin`). */
export function zoneFromLines(origin: Name | string, lines: readonly string[]): Zone {
  const at = typeof origin === 'string' ? Name.parse(origin) : origin;
  const b = new ZoneBuilder(at);
  for (const r of parseZoneFile(textSource('t.zone', lines.join('\n') + '\n'), { origin: at, include: memoryIncludes({}) })) b.add(r);
  return b.freeze();
}

/** A small zone at `serial`: SOA, NS, the name server's address, then `lines`. */
export function smallZone(origin: Name | string, serial: number, lines: readonly string[] = []): Zone {
  return zoneFromLines(origin, [`@ 3600 IN SOA ns1 hostmaster ${serial} 7200 900 2592000 300`, '@ 3600 IN NS ns1', 'ns1 3600 IN A 192.0.2.1', ...lines]);
}
