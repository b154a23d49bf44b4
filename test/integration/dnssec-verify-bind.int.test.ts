import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/types.js';
import { decodeRrsig, signingInput } from '../../src/dnssec/rrsig.js';
import { keyTag } from '../../src/dnssec/key-tag.js';
import { verifySignature } from '../../src/dnssec/verify-signature.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { checkZone } from '../../src/zone/checks.js';
import type { Zone } from '../../src/zone/zone.js';
import { requireTool, ROOT, run, verifySignedZone } from './helpers/run.js';

/**
 * Our canonical form, signing input and signature checks against signatures nobody here
 * wrote: BIND's dnssec-signzone signs a zone (NSEC3, a wildcard, a delegation with glue), and
 * every RRSIG must verify with hms's code, and fail once tampered with.
 */
const origin = Name.parse('example.com.');
let tmp: string;

beforeAll(() => {
  requireTool('dnssec-keygen');
  requireTool('dnssec-signzone');
  tmp = mkdtempSync(join(tmpdir(), 'hms-bind-signed-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function signWithBind(algorithm: string, zsk: string[], ksk: string[]): Zone {
  const dir = join(tmp, algorithm);
  mkdirSync(dir);
  const unsigned = join(dir, 'unsigned.zone');
  writeFileSync(
    unsigned,
    [
      '$TTL 3600',
      '@ SOA ns1 hostmaster 2026112201 7200 900 2592000 300',
      '  NS ns1',
      '  NS ns2.example.net.',
      '  MX 10 Mail',
      'ns1 A 192.0.2.1',
      'Mail A 192.0.2.25',
      'MAIL AAAA 2001:db8::25',
      '*.wild TXT "a wildcard"',
      'x.y.ent TXT "below empty non-terminals"',
      'sub NS ns.sub',
      'sub DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DEA84A2E67F2A6DA5C4A4AB8B8',
      'ns.sub A 192.0.2.53',
    ].join('\n') + '\n',
  );
  for (const args of [zsk, ['-f', 'KSK', ...ksk]]) {
    const r = run('dnssec-keygen', ['-q', '-K', dir, ...args, 'example.com']);
    expect(r.status, r.stderr).toBe(0);
  }
  const signed = join(dir, 'signed.zone');
  const r = run('dnssec-signzone', ['-q', '-S', '-K', dir, '-o', 'example.com', '-3', '-', '-f', signed, unsigned], { cwd: dir });
  expect(r.status, r.stderr).toBe(0);
  return loadZoneFile(signed, origin);
}

function checkEverySignature(zone: Zone): number {
  const dnskeys = zone.rrset(origin, RRType.DNSKEY)!.records.map((r) => r.rdata);
  let verified = 0;
  for (const node of zone.nodes) {
    const sigs = node.rrsets.find((s) => s.type === RRType.RRSIG);
    if (sigs === undefined) continue;
    for (const rr of sigs.records) {
      const sig = decodeRrsig(rr.rdata);
      const key = dnskeys.find((k) => keyTag(k) === sig.keyTag && k[3] === sig.algorithm)!;
      const set = node.rrsets.find((s) => s.type === sig.typeCovered)!;
      const header = rr.rdata.subarray(0, rr.rdata.length - sig.signature.length);
      const data = signingInput(
        header,
        sig.labels,
        node.name,
        set.type,
        sig.originalTtl,
        set.records.map((r) => r.rdata),
      );
      expect(verifySignature(key, data, sig.signature), `${node.name.toString()} RRSIG ${set.type}`).toBe(true);
      // tampered: a flipped signature byte, and a changed RRset
      const flipped = Uint8Array.from(sig.signature);
      flipped[flipped.length >> 1]! ^= 0x01;
      expect(verifySignature(key, data, flipped)).toBe(false);
      const changed = Uint8Array.from(data);
      changed[changed.length - 1]! ^= 0x01;
      expect(verifySignature(key, changed, sig.signature)).toBe(false);
      verified++;
    }
  }
  return verified;
}

describe('hms verifies what BIND signed (canonical form, RRSIG input, signatures)', () => {
  for (const [algorithm, zsk, ksk] of [
    ['RSASHA256', ['-a', 'RSASHA256', '-b', '1024'], ['-a', 'RSASHA256', '-b', '2048']],
    ['ECDSAP256SHA256', ['-a', 'ECDSAP256SHA256'], ['-a', 'ECDSAP256SHA256']],
    ['ED25519', ['-a', 'ED25519'], ['-a', 'ED25519']],
  ] as const) {
    it(`${algorithm}: every RRSIG of a BIND-signed NSEC3 zone verifies, and none once tampered`, () => {
      const zone = signWithBind(algorithm, [...zsk], [...ksk]);
      expect(checkZone(zone, { signed: true }).filter((f) => f.severity === 'error')).toEqual([]);
      const count = checkEverySignature(zone);
      // SOA, NS, MX, DNSKEY, NSEC3PARAM, A, AAAA, TXT x2, DS, the NSEC3 records...
      expect(count).toBeGreaterThan(20);
      const wildcard = zone.get(Name.parse('*.wild.example.com.'))!;
      expect(wildcard.rrsets.some((s) => s.type === RRType.RRSIG)).toBe(true);
    });
  }

  it('the signed zone reads back through hms zone print unchanged for dnssec-verify', () => {
    const dir = join(tmp, 'RSASHA256');
    const printed = run(process.execPath, [
      join(ROOT, 'dist/src/cli/main.js'),
      'zone',
      'print',
      join(dir, 'signed.zone'),
      '--origin',
      'example.com',
      '--signed',
    ]);
    expect(printed.status, printed.stderr).toBe(0);
    const file = join(dir, 'printed.zone');
    writeFileSync(file, printed.stdout, 'latin1');
    expect(verifySignedZone('example.com', file)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
  });
});
