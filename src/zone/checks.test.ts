import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FINDING_CODES } from '../common/error-codes.js';
import { Name } from '../dns/name.js';
import { textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { checkZone } from './checks.js';
import { hasErrors } from './findings.js';
import { ZoneBuilder, type Zone } from './zone.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/checks');
const origin = Name.parse('example.com.');

function zoneOf(file: string, text: string): Zone {
  const b = new ZoneBuilder(origin);
  for (const r of parseZoneFile(textSource(file, text), { origin })) b.add(r);
  return b.freeze();
}

describe('checkZone (DP-2.8a, OPS-6)', () => {
  const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.zone'));

  it('has one fixture per finding code', () => {
    expect(fixtures.map((f) => f.replace('.zone', '')).sort()).toEqual(Object.keys(FINDING_CODES).sort());
  });

  for (const file of fixtures) {
    it(`DP-2.8a ${file}: reports its finding with severity, file and line`, () => {
      const text = readFileSync(join(FIXTURES, file), 'latin1');
      const m = /^; expect: (\w+) (error|warning)(?: (\d+))?/.exec(text)!;
      const [, code, severity, line] = m;
      const findings = checkZone(zoneOf(file, text));
      const hit = findings.find((f) => f.code === code);
      expect(hit, JSON.stringify(findings)).toBeDefined();
      expect(hit!.severity).toBe(severity);
      if (line !== undefined) {
        expect(hit!.file).toBe(file);
        expect(hit!.line).toBe(Number(line));
      }
      // only the finding the fixture is about
      expect(findings.filter((f) => f.code !== code && !(code === 'SOA_MISSING' && f.code === 'SOA_MISSING'))).toEqual([]);
      expect(hasErrors(findings)).toBe(severity === 'error');
    });
  }

  it('finds nothing wrong in a clean zone with delegations, glue and sibling glue', () => {
    const text = [
      '$TTL 3600',
      '@ SOA ns1 hostmaster 1 7200 900 1209600 300',
      '  NS ns1',
      '  NS ns.a.sub',
      '  MX 10 mail',
      'ns1 A 192.0.2.1',
      'mail A 192.0.2.2',
      'www CNAME mail',
      'sub NS ns.sub',
      'sub NS ns.other',
      'sub DS 1 8 2 00',
      'ns.sub A 192.0.2.3',
      'ns.sub AAAA 2001:db8::3',
      'other NS ns.other',
      'ns.other A 192.0.2.4',
      'a.sub NS ns.a.sub',
      'ns.a.sub A 192.0.2.5',
      '*.wild TXT "x"',
      'x.y.z TXT "empty non-terminals above"',
    ].join('\n');
    const findings = checkZone(zoneOf('clean.db', text));
    expect(findings.filter((f) => f.code !== 'BELOW_CUT')).toEqual([]);
  });

  it('collects every finding of a zone with many problems', () => {
    const text = [
      '$TTL 3600',
      '@ SOA ns1 hostmaster 1 7200 900 1209600 300',
      '@ SOA ns1 hostmaster 2 7200 900 1209600 300',
      'www CNAME x',
      'www A 192.0.2.1',
      'sub NS ns.sub',
      'deep.sub TXT "hidden"',
      'out.example.org. A 192.0.2.1',
    ].join('\n');
    const codes = checkZone(zoneOf('bad.db', text))
      .map((f) => f.code)
      .sort();
    expect(codes).toEqual(['BELOW_CUT', 'CNAME_AND_OTHER', 'GLUE_MISSING', 'NS_APEX_MISSING', 'OUT_OF_ZONE', 'SOA_MULTIPLE']);
  });

  it('accepts DNSSEC records when the zone is declared signed', () => {
    const text = '$TTL 3600\n@ SOA ns1 h 1 7200 900 1209600 300\n NS ns1\nns1 A 192.0.2.1\n@ DNSKEY 257 3 8 AwEAAQ==\n';
    expect(checkZone(zoneOf('s.db', text), { signed: true })).toEqual([]);
    expect(checkZone(zoneOf('s.db', text)).map((f) => f.code)).toEqual(['DNSSEC_IN_INPUT']);
  });
});
