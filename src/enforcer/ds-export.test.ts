import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireTool, run } from '../../test/integration/helpers/run.js';
import { Name } from '../dns/name.js';
import { DigestType } from '../dnssec/algorithms.js';
import { loadPolicies } from '../kasp/load.js';
import type { Policy } from '../kasp/policy.js';
import { dsChange, exportDigests, exportDs, formatDsSubmission, planDsSubmission } from './ds-export.js';
import type { KeyRecord } from './keys.js';
import { timings } from './timing.js';

// RFC 4034 section 5.4: the DNSKEY of dskey.example.com and its DS (SHA-1), and RFC 4509's SHA-256 DS
const ZONE = Name.parse('dskey.example.com.');
const RFC4034_KEY = Buffer.concat([
  Buffer.from([1, 0, 3, 5]),
  Buffer.from(
    'AQOeiiR0GOMYkDshWoSKz9XzfwJr1AYtsmx3TGkJaNXVbfi/2pHm822aJ5iI9BMzNXxeYCmZDRD99WYwYqUSdjMmmAphXdvxegXd/M5+X7OrzKBaMbCVdFLUUh6DhweJBjEVv5f2wwjM9XzcnOf+EPbtG9DMBmADjFDc2w/rljwvFw==',
    'base64',
  ),
]);

function ksk(over: Partial<KeyRecord>): KeyRecord {
  return {
    id: 'a',
    role: 'ksk',
    algorithm: 5,
    bits: 1024,
    keyTag: 60485,
    dnskey: RFC4034_KEY,
    created: 0,
    publish: 0,
    active: null,
    retire: null,
    remove: null,
    dsSeen: null,
    dsWithdrawn: null,
    successorOf: null,
    compromised: false,
    ...over,
  };
}

describe('OPS-3 DP-4.7a the DS for the registrar', () => {
  it('as DS records (the RFC 4034 section 5.4 example, SHA-1 when asked)', () => {
    expect(exportDs(ZONE, { add: [ksk({})], remove: [] }, 'ds', [DigestType.SHA1], 3600)).toBe(
      'dskey.example.com.\tIN\tDS\t60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n',
    );
  });

  it('as DNSKEY records with their TTL, which dnssec-dsfromkey -f reads and turns into the same DS', () => {
    const dnskey = exportDs(ZONE, { add: [ksk({})], remove: [] }, 'dnskey', [DigestType.SHA256], 3600);
    expect(dnskey).toMatch(/^dskey\.example\.com\.\t3600\tIN\tDNSKEY\t256 3 5 AQOeiiR0/);
    // the RFC 4034 example key is a zone key (flags 256): -A asks dnssec-dsfromkey for those too
    requireTool('dnssec-dsfromkey');
    const dir = mkdtempSync(join(tmpdir(), 'hms-dnskey-'));
    try {
      writeFileSync(join(dir, 'dnskey'), dnskey);
      const r = run('dnssec-dsfromkey', ['-A', '-2', '-f', join(dir, 'dnskey'), 'dskey.example.com']);
      expect(r.stderr).toBe('');
      const ours = exportDs(ZONE, { add: [ksk({})], remove: [] }, 'ds', [DigestType.SHA256], 3600);
      expect(r.stdout.trim().split(/\s+/)).toEqual(ours.trim().split(/\s+/));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('as EPP secDNS-1.1 XML (RFC 5910): the old DS in rem, the new in add', () => {
    const xml = exportDs(ZONE, { add: [ksk({ id: 'b' })], remove: [ksk({})] }, 'epp', [DigestType.SHA1], 3600);
    expect(xml).toContain('<secDNS:update xmlns:secDNS="urn:ietf:params:xml:ns:secDNS-1.1">');
    expect(xml).toContain('<domain:name>dskey.example.com</domain:name>');
    expect(xml.indexOf('<secDNS:rem>')).toBeLessThan(xml.indexOf('<secDNS:add>'));
    expect(xml).toMatch(
      /<secDNS:keyTag>60485<\/secDNS:keyTag>\s*<secDNS:alg>5<\/secDNS:alg>\s*<secDNS:digestType>1<\/secDNS:digestType>\s*<secDNS:digest>2BB183AF5F22588179A53B0A98631FAD1A292118<\/secDNS:digest>/,
    );
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
    expect(
      dsChange(
        [
          { ...old, dsWithdrawn: 5000 },
          { ...fresh, dsSeen: 5000 },
        ],
        5000,
        3600,
      ),
    ).toEqual({ add: [], remove: [] });
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

const DP = loadPolicies(readFileSync(join(import.meta.dirname, '../../kasp/default.yaml'), 'utf8'), 'kasp/default.yaml').policies[0]!;
const FACTS = { maxTtl: 3600 };
const IPUB = timings(DP, FACTS).publish;

describe('OPS-3 DP-4.7a hms ds export: only what may be submitted now', () => {
  const submit = (keys: KeyRecord[], now: number, insecure = false): ReturnType<typeof planDsSubmission> =>
    planDsSubmission({ policy: DP, keys, zone: FACTS, now, insecure });
  const tags = (ks: readonly KeyRecord[]): number[] => ks.map((k) => k.keyTag);
  const first = ksk({ id: 'first', keyTag: 11, publish: 1000 });

  it("a new zone's DS: nothing before its DNSKEY is known everywhere, and says from when", () => {
    const early = submit([first], 1000);
    expect(early.change).toEqual({ add: [], remove: [] });
    expect(early.nextFrom).toBe(1000 + IPUB);
    expect(early.note).toBe(
      `nothing to submit now: from ${new Date((1000 + IPUB) * 1000).toISOString().replace('.000', '')}, submit DS 11 (once the new DNSKEY is known to every resolver)`,
    );
    expect(formatDsSubmission(ZONE, early, 'ds', [DigestType.SHA256], 3600)).toBe('');
    expect(formatDsSubmission(ZONE, early, 'epp', [DigestType.SHA256], 3600)).toBe('');
    const ready = submit([first], 1000 + IPUB);
    expect(tags(ready.change.add)).toEqual([11]);
    expect(tags(ready.parent)).toEqual([]);
    expect(tags(ready.wanted)).toEqual([11]);
    expect(formatDsSubmission(ZONE, ready, 'ds', [DigestType.SHA256], 3600)).toMatch(/^dskey\.example\.com\.\tIN\tDS\t60485 5 2 /);
  });

  it('a stable zone: nothing to submit (no DS the parent holds is added again)', () => {
    const s = submit([{ ...first, dsSeen: 5000 }], 100_000);
    expect(s.change).toEqual({ add: [], remove: [] });
    expect(tags(s.parent)).toEqual([11]);
    expect(s.nextFrom).toBeNull();
    expect(s.note).toBe('nothing to submit now: the parent holds DS 11 as the state knows it, and no change is due');
    expect(formatDsSubmission(ZONE, s, 'epp', [DigestType.SHA256], 3600)).toBe('');
  });

  it('a double-KSK roll: nothing until the new DNSKEY is known, then the EPP update turns {old} into {new}; after the new DS is seen only the rem is left', () => {
    const old = { ...first, dsSeen: 5000 };
    const fresh = ksk({ id: 'new', keyTag: 22, publish: 200_000, successorOf: 'first' });
    const early = submit([old, fresh], 200_000);
    expect(early.change).toEqual({ add: [], remove: [] });
    expect(early.note).toMatch(/^nothing to submit now: from \S+, submit DS 22 and withdraw DS 11 /);
    expect(formatDsSubmission(ZONE, early, 'ds', [DigestType.SHA256], 3600)).toBe('');
    const now = submit([old, fresh], 200_000 + IPUB);
    expect([tags(now.parent), tags(now.wanted), tags(now.change.add), tags(now.change.remove)]).toEqual([[11], [22], [22], [11]]);
    const epp = formatDsSubmission(ZONE, now, 'epp', [DigestType.SHA256], 3600);
    expect(epp.indexOf('<secDNS:rem>')).toBeLessThan(epp.indexOf('<secDNS:add>'));
    const seen = submit([old, { ...fresh, dsSeen: 300_000 }], 300_000);
    expect([tags(seen.parent), tags(seen.wanted), tags(seen.change.add), tags(seen.change.remove)]).toEqual([[11, 22], [22], [], [11]]);
    expect(seen.note).toMatch(/^withdraw DS 11 at the parent/);
    // the EPP update removes the old DS and adds nothing the parent holds; ds and dnskey have nothing to add
    const rem = formatDsSubmission(ZONE, seen, 'epp', [DigestType.SHA256], 3600);
    expect(rem).toContain('<secDNS:rem>');
    expect(rem).not.toContain('<secDNS:add>');
    expect(formatDsSubmission(ZONE, seen, 'ds', [DigestType.SHA256], 3600)).toBe('');
  });

  it('DP-4.7b going insecure: every DS the parent holds is to go', () => {
    const s = submit([{ ...first, dsSeen: 5000 }], 100_000, true);
    expect([tags(s.parent), tags(s.wanted), tags(s.change.remove)]).toEqual([[11], [], [11]]);
    expect(s.note).toMatch(/^withdraw DS 11 at the parent \(going insecure, DP-4\.7b\)/);
  });

  it("--digest: the policy's digests by default; sha1 refused unless the policy lists SHA-1, naming its digests", () => {
    expect(exportDigests(DP, undefined)).toEqual([DigestType.SHA256]);
    expect(exportDigests(DP, 'SHA384')).toEqual([DigestType.SHA384]);
    expect(() => exportDigests(DP, 'sha1')).toThrow(
      "--digest sha1: policy 'dp' does not list SHA-1 (its parent.ds-digests: sha256); SHA-1 DS records are made only when the policy lists them (RFC 8624)",
    );
    expect(() => exportDigests(DP, 'md5')).toThrow(/--digest: 'md5' is not sha256 or sha384/);
    const withSha1: Policy = { ...DP, parent: { ...DP.parent, dsDigests: [DigestType.SHA256, DigestType.SHA1] } };
    expect(exportDigests(withSha1, 'sha1')).toEqual([DigestType.SHA1]);
  });
});
