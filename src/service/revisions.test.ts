import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { ZoneBuilder } from '../zone/zone.js';
import type { RevisionRepository, RevisionRow } from '../enforcer/ports.js';
import { canonicalText, InputFingerprint, keepRevision, revisionDigest } from './revisions.js';

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

describe('a revision kept without its whole text when it is the newest already (issue 20: the first re-sign after a restart of a 1M-record zone)', () => {
  const big = (extra = ''): ReturnType<ZoneBuilder['freeze']> => {
    const lines = [ZONE, extra];
    for (let i = 0; i < 5000; i++) lines.push(`h${i} A 192.0.2.${i % 250}\nh${i} TXT "host ${i}"\n`);
    const builder = new ZoneBuilder(origin);
    for (const r of parseZoneFile(textSource('big.zone', lines.join('')), { origin })) builder.add(r);
    return builder.freeze();
  };

  it('DP-2.6 the digest hashed a batch of lines at a time is the SHA-256 of the canonical text made whole', () => {
    const zone = big();
    const text = canonicalText(zone);
    expect(text.length).toBeGreaterThan(3 << 16);
    expect(revisionDigest(zone)).toBe(createHash('sha256').update(text).digest('hex'));
  });

  it('DP-2.6 the same data as the newest revision: that revision, the text never handed to the store; other data: a new revision with its text', () => {
    const zone = big();
    const added: { sha256: string; text: string }[] = [];
    const rows: RevisionRow[] = [];
    const store: RevisionRepository = {
      addRevision: (z, r) => {
        added.push({ sha256: r.sha256, text: r.text });
        const row: RevisionRow = {
          zone: z,
          rev: rows.length + 1,
          at: 1,
          actor: 'test',
          source: r.source,
          serial: r.serial,
          records: r.records,
          sha256: r.sha256,
        };
        rows.unshift(row);
        return row;
      },
      revisions: (_z, limit) => rows.slice(0, limit),
      revisionText: () => undefined,
    };
    const audit = { actor: 'test', at: 1 };
    const first = keepRevision(store, zone, 'file big.zone', audit);
    expect(added).toEqual([{ sha256: revisionDigest(zone), text: canonicalText(zone) }]);
    expect(keepRevision(store, big(), 'file big.zone', audit)).toEqual(first);
    expect(added.length).toBe(1);
    const other = big('mail A 192.0.2.25\n');
    const second = keepRevision(store, other, 'file big.zone', audit);
    expect(second.rev).toBe(2);
    expect(added.at(-1)).toEqual({ sha256: revisionDigest(other), text: canonicalText(other) });
  });
});
