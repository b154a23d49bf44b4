import { describe, expect, it } from 'vitest';
import { zoneFromLines } from '../../test/helpers/zones.js';
import { checkZoneCompliance, tlsaProblem, worstStatus } from './check-zone.js';
import type { ValidatingLookup } from './lookup.js';
import { parseSpf } from './mail-records.js';

/** A lookup that never answers: the items that need one are UNKNOWN, the zone's own stay decided. */
const SILENT: ValidatingLookup = { source: 'nobody', lookup: () => Promise.resolve({ kind: 'failed', problem: 'no answer' }) };

const HEAD = ['@ 3600 SOA ns1 hostmaster 1 7200 900 2592000 300', '@ NS ns1', '@ NS ns2.elsewhere.dk.', 'ns1 A 192.0.2.1', 'ns1 AAAA 2001:db8::1'];

async function dk23(lines: string[]): Promise<string[]> {
  const r = await checkZoneCompliance(zoneFromLines('mail.dk.', [...HEAD, ...lines]), SILENT, { signed: true, source: 't.zone' });
  return r.items.filter((i) => i.requirement === 'DK-23').map((i) => `${i.status} ${i.subject} ${i.message}`);
}

describe('DK-23 from the zone records', () => {
  it('DK-23 a subdomain with MX and no _dmarc of its own takes the apex sp=, then p=', async () => {
    const base = ['@ TXT "v=spf1 -all"', 'shop MX 10 mx.elsewhere.dk.', 'shop TXT "v=spf1 -all"'];
    expect(await dk23([...base, '_dmarc TXT "v=DMARC1; p=reject; sp=none"'])).toContain('not-met shop.mail.dk. DMARC sp=none at _dmarc.mail.dk., not reject');
    expect(await dk23([...base, '_dmarc TXT "v=DMARC1; p=reject"'])).toContain('met shop.mail.dk. DMARC p=reject at _dmarc.mail.dk.');
    expect(await dk23([...base, '_dmarc TXT "v=DMARC1; p=none"', '_dmarc.shop TXT "v=DMARC1; p=reject"'])).toContain(
      'met shop.mail.dk. DMARC p=reject at _dmarc.shop.mail.dk.',
    );
  });

  it('DK-23 SPF: softfail, two records, redirect, none', async () => {
    const dmarc = '_dmarc TXT "v=DMARC1; p=reject; pct=50"';
    expect(await dk23([dmarc, '@ TXT "v=spf1 mx ~all"'])).toContain('not-met mail.dk. SPF "v=spf1 mx ~all" ends in ~all, not -all');
    expect(await dk23([dmarc, '@ TXT "v=spf1 -all"', '@ TXT "v=spf1 mx -all"'])).toContain(
      'not-met mail.dk. 2 SPF records: a receiver takes none of them (RFC 7208 section 4.5)',
    );
    expect((await dk23([dmarc, '@ TXT "v=spf1 redirect=_spf.elsewhere.dk"']))[1]).toMatch(
      /^warning mail\.dk\. SPF .* ends with the record of _spf\.elsewhere\.dk/,
    );
    expect(await dk23([dmarc])).toContain('not-met mail.dk. no SPF record (TXT "v=spf1 ... -all")');
    expect(await dk23([dmarc, '@ TXT "v=spf1 -all"'])).toContain('warning mail.dk. DMARC p=reject at _dmarc.mail.dk., but for pct=50% of the mail only');
  });

  it('DK-23 DKIM only where SPF lets a host send; in-zone MX targets need SPF; a null MX needs no gateway', async () => {
    const dmarc = '_dmarc TXT "v=DMARC1; p=reject"';
    expect(await dk23([dmarc, '@ TXT "v=spf1 -all"', '@ MX 0 .'])).toEqual([
      'met mail.dk. DMARC p=reject at _dmarc.mail.dk.',
      'met mail.dk. SPF "v=spf1 -all"',
      'met mail.dk. sends no mail (SPF authorises no host): no DKIM key needed',
    ]);
    const sends = await dk23([dmarc, '@ TXT "v=spf1 ip4:192.0.2.0/24 -all"', '@ MX 10 mx', 'mx A 192.0.2.25']);
    expect(sends).toContain('not-met mail.dk. sends mail (SPF authorises hosts) but has no DKIM key (TXT with p= at SELECTOR._domainkey.mail.dk.)');
    expect(sends).toContain('not-met mx.mail.dk. no SPF record (TXT "v=spf1 ... -all")');
    const signed = await dk23([
      dmarc,
      '@ TXT "v=spf1 include:_spf.provider.dk -all"',
      's1._domainkey CNAME s1.dkim.provider.dk.',
      'old._domainkey TXT "v=DKIM1; p="',
    ]);
    expect(signed).toContain('met mail.dk. DKIM keys at s1._domainkey.mail.dk.');
    const nullMx = await checkZoneCompliance(zoneFromLines('mail.dk.', [...HEAD, '@ MX 0 .']), SILENT, { signed: true, source: 't' });
    expect(nullMx.items.filter((i) => i.requirement === 'DK-19' || i.requirement === 'DK-20').map((i) => i.status)).toEqual(['met', 'met']);
  });
});

describe('the rest on the zone records, and statuses', () => {
  it('DK-18 DP-3.3b a silent lookup is UNKNOWN, and the zone UNKNOWN when nothing is unmet', async () => {
    const r = await checkZoneCompliance(zoneFromLines('quiet.dk.', HEAD), SILENT, { signed: true, source: 't' });
    const line = (req: string): string[] => r.items.filter((i) => i.requirement === req).map((i) => `${i.status} ${i.message}`);
    expect(line('DK-18')).toEqual(['unknown SOA through nobody: no answer']);
    expect(line('DP-3.3b')).toEqual(['unknown 1 with IPv6 (ns1.quiet.dk.); not answered through nobody: ns2.elsewhere.dk. (no answer)']);
    expect(line('DP-3.3a')[0]).toMatch(/^met 2 name servers/);
    expect(worstStatus(['met', 'unknown', 'warning'])).toBe('unknown');
    expect(worstStatus(['unknown', 'not-met'])).toBe('not-met');
  });

  it('DK-18 a zone not signed here is not met, whatever the resolver says', async () => {
    const r = await checkZoneCompliance(zoneFromLines('quiet.dk.', HEAD), SILENT, { signed: { reason: 'no signed version yet' }, source: 't' });
    expect(r.items[1]).toMatchObject({ requirement: 'DK-18', status: 'not-met', message: 'not signed here: no signed version yet' });
    expect(r.status).toBe('not-met');
  });

  it('DK-20 TLSA parameters usable for SMTP (RFC 7672 section 3.1.3)', () => {
    const tlsa = (...b: number[]): Uint8Array => Uint8Array.from(b);
    const sha256 = new Array<number>(32).fill(7);
    expect(tlsaProblem(tlsa(3, 1, 1, ...sha256))).toBeUndefined();
    expect(tlsaProblem(tlsa(2, 0, 2, ...sha256, ...sha256))).toBeUndefined();
    expect(tlsaProblem(tlsa(3, 1, 1, ...sha256.slice(1)))).toBe('a SHA-256 digest has 32 octets, not 31');
    expect(tlsaProblem(tlsa(0, 0, 1, ...sha256))).toMatch(/^usage 0 \(PKIX-TA\) is not used for SMTP/);
    expect(tlsaProblem(tlsa(3, 2, 1, ...sha256))).toBe('selector 2 is not defined');
    expect(tlsaProblem(tlsa(3, 1, 3, ...sha256))).toBe('matching type 3 is not defined');
  });

  it('DK-23 SPF terms: what sends, how it ends', () => {
    expect(parseSpf('v=spf1 -all')).toEqual({ all: '-', redirect: null, sends: false });
    expect(parseSpf('v=spf1 mx a:out.example.dk -all')).toEqual({ all: '-', redirect: null, sends: true });
    expect(parseSpf('v=spf1 -ip4:192.0.2.1 ?all')).toEqual({ all: '?', redirect: null, sends: false });
    expect(parseSpf('v=spf1 all')).toEqual({ all: '+', redirect: null, sends: false });
    expect(parseSpf('v=spf1 exp=explain._spf.example.dk redirect=_spf.example.dk')).toEqual({ all: null, redirect: '_spf.example.dk', sends: true });
  });
});
