import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { ZoneBuilder } from '../zone/zone.js';
import { InputFingerprint, revisionDigest } from './revisions.js';

const origin = Name.parse('fp.example.');
const ZONE = `$TTL 3600
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
ns1 A 192.0.2.53
www A 192.0.2.10
www TXT "hello"
`;

/** The fingerprint of a zone text as read, and its revision digest. */
function read(text: string): { fingerprint: string; digest: string } {
  const fingerprint = new InputFingerprint();
  const builder = new ZoneBuilder(origin);
  for (const r of parseZoneFile(textSource('fp.zone', text), { origin })) {
    fingerprint.add(r);
    builder.add(r);
  }
  return { fingerprint: fingerprint.digest(), digest: revisionDigest(builder.freeze()) };
}

describe('the fingerprint of an input as read (a re-sign of an unchanged input keeps its revision without printing the zone)', () => {
  it('DP-2.6 the same records read give the same fingerprint; any change of owner (its case too), type, TTL or RDATA gives another', () => {
    const base = read(ZONE);
    expect(read(ZONE)).toEqual(base);
    // the same records written otherwise: the same fingerprint (and revision)
    expect(read(ZONE.replace('www A 192.0.2.10', 'www.fp.example. 3600 IN A 192.0.2.10'))).toEqual(base);
    for (const changed of [
      ZONE.replace('www A 192.0.2.10', 'WWW A 192.0.2.10'),
      ZONE.replace('www A 192.0.2.10', 'www 300 A 192.0.2.10'),
      ZONE.replace('www A 192.0.2.10', 'www A 192.0.2.11'),
      ZONE.replace('www TXT "hello"', 'www SPF "hello"'),
      ZONE.replace('www TXT "hello"', 'www TXT "hello" "world"'),
      `${ZONE}mail A 192.0.2.25\n`,
    ])
      expect(read(changed).fingerprint, changed).not.toBe(base.fingerprint);
  });

  it('takes records of any size: RDATA as large as a record may be, many records past its buffer', () => {
    const big = (n: number): string => `big TXT ${Array.from({ length: n }, () => `"${'x'.repeat(254)}"`).join(' ')}\n`;
    const many = Array.from({ length: 2000 }, (_, i) => `h${i} A 192.0.2.${i % 250}\n`).join('');
    const a = read(ZONE + big(257) + many);
    expect(read(ZONE + big(257) + many)).toEqual(a);
    expect(read(ZONE + big(256) + many).fingerprint).not.toBe(a.fingerprint);
    expect(read(ZONE + big(257) + many.replace('h1999 A 192.0.2.249', 'h1999 A 192.0.2.248')).fingerprint).not.toBe(a.fingerprint);
  });
});
