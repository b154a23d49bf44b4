import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { printZone } from './print.js';
import { ZoneBuilder, type Zone } from './zone.js';

const ZONES = join(import.meta.dirname, '../../test/fixtures/zones');
const origin = Name.parse('corpus.example.');

function load(text: string, files: Record<string, string> = {}): Zone {
  const b = new ZoneBuilder(origin);
  for (const r of parseZoneFile(textSource('corpus.zone', text), { origin, include: memoryIncludes(files) })) b.add(r);
  return b.freeze();
}

function fingerprint(zone: Zone): string[] {
  const out: string[] = [];
  for (const set of zone.rrsets()) {
    for (const rr of set.records) out.push(`${set.owner.key}|${set.type}|${rr.ttl}|${Buffer.from(rr.rdata).toString('hex')}`);
  }
  return out;
}

describe('printZone', () => {
  const corpus = readFileSync(join(ZONES, 'corpus.zone'), 'latin1');
  const include = { 'corpus-include.zone': readFileSync(join(ZONES, 'corpus-include.zone'), 'latin1') };

  it('prints text that parses back to the very same records', () => {
    const zone = load(corpus, include);
    const printed = [...printZone(zone)].join('\n');
    expect(fingerprint(load(printed))).toEqual(fingerprint(zone));
  });

  it('puts the SOA first, then names in canonical order, types ascending', () => {
    const lines = [...printZone(load(corpus, include))];
    expect(lines[0]).toMatch(/^corpus\.example\.\t3600\tIN\tSOA\t/);
    const owners = lines.slice(1).map((l) => Name.parse(l.split('\t')[0]!));
    for (let i = 1; i < owners.length; i++) expect(owners[i - 1]!.compare(owners[i]!)).toBeLessThanOrEqual(0);
  });

  it('keeps the case of names as written, and merges names that differ only in case', () => {
    const zone = load('$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nWWW A 192.0.2.2\nwww A 192.0.2.3\n');
    const lines = [...printZone(zone)];
    expect(lines.filter((l) => /^www\./i.test(l))).toEqual(['WWW.corpus.example.\t60\tIN\tA\t192.0.2.2', 'WWW.corpus.example.\t60\tIN\tA\t192.0.2.3']);
  });
});
