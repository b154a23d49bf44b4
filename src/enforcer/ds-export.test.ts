import { describe, expect, it } from 'vitest';
import { Name } from '../dns/name.js';
import { DigestType } from '../dnssec/algorithms.js';
import { dsChange, exportDs } from './ds-export.js';
import type { KeyRecord } from './keys.js';

// RFC 4034 section 5.4: the DNSKEY of dskey.example.com and its DS (SHA-1), and RFC 4509's SHA-256 DS
const ZONE = Name.parse('dskey.example.com.');
const RFC4034_KEY = Buffer.concat([Buffer.from([1, 0, 3, 5]), Buffer.from(
  'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
  'base64')]);

function ksk(over: Partial<KeyRecord>): KeyRecord {
  return { id: 'a', role: 'ksk', algorithm: 5, bits: 1024, keyTag: 60485, dnskey: RFC4034_KEY, created: 0, publish: 0, active: null, retire: null, remove: null,
    dsSeen: null, dsWithdrawn: null, successorOf: null, compromised: false, ...over };
}

describe('OPS-3 DP-4.7a the DS for the registrar', () => {
  it('as DS records (the RFC 4034 section 5.4 example, SHA-1 when asked)', () => {
    expect(exportDs(ZONE, { add: [ksk({})], remove: [] }, 'ds', [DigestType.SHA1]))
      .toBe('dskey.example.com.\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n');
  });

  it('as DNSKEY records', () => {
    expect(exportDs(ZONE, { add: [ksk({})], remove: [] }, 'dnskey', [DigestType.SHA256])).toMatch(/^dskey\.example\.com\.\tIN\tDNSKEY\t256 3 5 AQOeiiR0/);
  });

  it('as EPP secDNS-1.1 XML (RFC 5910): the old DS in rem, the new in add', () => {
    const xml = exportDs(ZONE, { add: [ksk({ id: 'b' })], remove: [ksk({})] }, 'epp', [DigestType.SHA1]);
    expect(xml).toContain('<secDNS:update xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">');
    expect(xml).toContain('<domain:name>dskey.example.com</domain:name>');
    expect(xml.indexOf('<secDNS:rem>')).toBeLessThan(xml.indexOf('<secDNS:add>'));
    expect(xml).toMatch(/<secDNS:keyTag>60485<\/secDNS:keyTag>\s*<secDNS:alg>5<\/secDNS:alg>\s*<secDNS:digestType>1<\/secDNS:digestType>\s*<secDNS:digest>2BB183AF5F22588179A53B0A98631FAD1A292118<\/secDNS:digest>/);
    // balanced tags
    const open = [...xml.matchAll(/<([a-zA-Z:]+)[ >]/g)].map((m) => m[1]).filter((t) => t !== '?xml');
    const close = [...xml.matchAll(/<\/([a-zA-Z:]+)>/g)].map((m) => m[1]);
    expect(open.sort()).toEqual(close.sort());
  });

  it('asks for the new DS once the new DNSKEY is known, and for the old one to go', () => {
    const old = ksk({ id: 'old', dsSeen: 10 });
    const fresh = ksk({ id: 'new', publish: 1000, successorOf: 'old' });
    // nothing to change at the parent before every resolver knows the new DNSKEY
    expect(dsChange([old, fresh], 1000, 3600)).toEqual({ add: [], remove: [] });
    expect(dsChange([old, fresh], 4600, 3600)).toEqual({ add: [fresh], remove: [old] });
    expect(dsChange([{ ...old, dsWithdrawn: 5000 }, { ...fresh, dsSeen: 5000 }], 5000, 3600)).toEqual({ add: [], remove: [] });
  });

  it('RFC 7583 section 3.3.2 double-DS: the new DS at once beside the old; the old goes only once the new DNSKEY is known', () => {
    const old = ksk({ id: 'old', dsSeen: 10 });
    const fresh = ksk({ id: 'new', publish: null, successorOf: 'old' });
    expect(dsChange([old, fresh], 1000, 3600)).toEqual({ add: [fresh], remove: [] });
    const seen = { ...fresh, dsSeen: 2000, publish: 90000 };
    const swapped = { ...old, remove: 90000 };
    expect(dsChange([swapped, seen], 90000, 3600)).toEqual({ add: [], remove: [] });
    expect(dsChange([swapped, seen], 93600, 3600)).toEqual({ add: [], remove: [swapped] });
  });

  it('DP-4.7b going insecure: every DS still at the parent is to go, none to come', () => {
    const old = ksk({ id: 'old', dsSeen: 10 });
    expect(dsChange([old], 1000, 3600, true)).toEqual({ add: [], remove: [old] });
    expect(dsChange([{ ...old, dsWithdrawn: 900 }], 1000, 3600, true)).toEqual({ add: [], remove: [] });
  });
});
