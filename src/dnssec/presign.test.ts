import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { softwareKey, threadedKey } from '../../test/helpers/software-signer.js';
import { verifySignedZone } from '../../test/integration/helpers/run.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { printZone } from '../zone/print.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { Algorithm } from './algorithms.js';
import { Presigner } from './presign.js';
import { signZone, type SignZoneOptions } from './sign-zone.js';
import type { SigningKey } from './signer.js';

const origin = Name.parse('ahead.example.');
// the validators judge signatures by this machine's clock
const NOW = Math.floor(Date.now() / 3600_000) * 3600;
const times = { inception: NOW - 3600, expiration: NOW + 32 * 86400 };

// in file order, with what a Presigner guesses of each run of records
const ZONE = `$TTL 3600
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
@ A 192.0.2.1
ns1 A 192.0.2.53
www A 192.0.2.10
www A 192.0.2.11
mail A 192.0.2.20
ftp A 192.0.2.21
mail A 192.0.2.22
ns.late A 192.0.2.30
late NS ns.late
late DS 12345 8 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DE4A8B5E3C3E0A4E0D0A0B0C0D
early NS ns.early
ns.early A 192.0.2.40
early A 192.0.2.41
t 300 TXT "a"
t 600 TXT "b"
*.w A 192.0.2.50
`;
/** Signed ahead: @ A, ns1 A, www A, mail A (twice), ftp A, ns.late A, late DS, t TXT, *.w A. */
const AHEAD = 10;
/** Of those, wrong: the two halves of mail's A RRset, and ns.late's A (glue read before its cut). */
const WRONG = 3;

const rsaKeys = [softwareKey(Algorithm.RSASHA256, 'ksk'), softwareKey(Algorithm.RSASHA256, 'zsk')];

/** The ZSK with signTo (as the HSM's signing threads have it), counting what it is asked. */
const threadedZsk = (options: { hold?: boolean; failFirst?: number } = {}): ReturnType<typeof threadedKey> => threadedKey(rsaKeys[1]!, options);

/** The zone read record by record, each shown to the presigner as it comes. */
function read(presigner: Presigner | undefined): Zone {
  const b = new ZoneBuilder(origin);
  for (const r of parseZoneFile(textSource('ahead.zone', ZONE), { origin })) {
    b.add(r);
    presigner?.add(r);
  }
  presigner?.finish();
  return b.freeze();
}

const optionsWith = (zsk: SigningKey): SignZoneOptions => ({
  keys: [rsaKeys[0]!, zsk],
  denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
  ...times,
});

function signatures(zone: Zone): number {
  let n = 0;
  for (const node of zone.nodes) for (const set of node.rrsets) if (set.type === RRType.RRSIG) n += set.records.length;
  return n;
}

describe('signing while the zone file is read (Presigner)', () => {
  it('OPS-7 signs RRsets ahead and uses a signature only for exactly what the signer signs: the zone is the one signed without it, and passes the validators', async () => {
    const plain = await signZone(read(undefined), optionsWith(threadedZsk().key));
    const { key, calls } = threadedZsk();
    const presigner = new Presigner(origin, times);
    presigner.start([rsaKeys[0]!, key]); // the KSK is not used ahead
    const zone = read(presigner);
    expect(calls()).toBe(AHEAD);
    const signed = await signZone(zone, { ...optionsWith(key), presigned: presigner });
    expect([...printZone(signed)]).toEqual([...printZone(plain)]); // RSA PKCS#1 v1.5: the same signatures
    expect(presigner.used).toBe(AHEAD - WRONG);
    // one signature (the DNSKEY RRset's) by the KSK; of the ZSK's, those made ahead and used were not asked again
    expect(calls() - AHEAD).toBe(signatures(signed) - 1 - (AHEAD - WRONG));
    const dir = mkdtempSync(join(tmpdir(), 'hms-presign-'));
    try {
      writeFileSync(join(dir, 'ahead.zone'), [...printZone(signed)].join('\n') + '\n', 'latin1');
      expect(verifySignedZone('ahead.example', join(dir, 'ahead.zone'))).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes a signature that arrived before it was needed as well as one still on its way', async () => {
    const plain = [...printZone(await signZone(read(undefined), optionsWith(threadedZsk().key)))];
    for (const wait of [false, true]) {
      const { key } = threadedZsk();
      const presigner = new Presigner(origin, times);
      presigner.start([key]);
      const zone = read(presigner);
      if (wait) await new Promise((resolve) => setTimeout(resolve, 50));
      expect([...printZone(await signZone(zone, { ...optionsWith(key), presigned: presigner }))], `waited: ${wait}`).toEqual(plain);
    }
  });

  it('asks no more than `inFlight` signatures ahead that are not answered yet, and none before it has keys', async () => {
    const held = threadedZsk({ hold: true });
    const presigner = new Presigner(origin, times, 2);
    presigner.start([held.key]);
    read(presigner);
    expect(held.calls()).toBe(2);
    await held.answer();

    // records read before start are not signed ahead
    const late = threadedZsk();
    const notYet = new Presigner(origin, times);
    const b = new ZoneBuilder(origin);
    let i = 0;
    for (const r of parseZoneFile(textSource('ahead.zone', ZONE), { origin })) {
      if (i++ === 6) notYet.start([late.key]); // after www's first A: from www's RRset on
      b.add(r);
      notYet.add(r);
    }
    notYet.finish();
    expect(late.calls()).toBe(AHEAD - 2); // not @ A, ns1 A
  });

  it('signs anew what failed ahead, whether the failure came before the signature was needed or after', async () => {
    const plain = [...printZone(await signZone(read(undefined), optionsWith(threadedZsk().key)))];
    for (const wait of [false, true]) {
      const { key, calls } = threadedZsk({ failFirst: 4 });
      const presigner = new Presigner(origin, times);
      presigner.start([key]);
      const zone = read(presigner);
      if (wait) await new Promise((resolve) => setTimeout(resolve, 50));
      const signed = await signZone(zone, { ...optionsWith(key), presigned: presigner });
      expect([...printZone(signed)], `waited: ${wait}`).toEqual(plain);
      // the first four asked ahead fail; three of them (@ A, ns1 A, www A) were good guesses, asked again
      expect(calls() - AHEAD, `waited: ${wait}`).toBe(signatures(signed) - 1 - (AHEAD - WRONG) + 3);
    }
  });

  it("signs ahead with the jitter signZoneTo spreads the expirations by (the policy's signatures.jitter): every good guess is used", async () => {
    const jitter = 12 * 3600;
    const plain = await signZone(read(undefined), { ...optionsWith(threadedZsk().key), jitter });
    const { key, calls } = threadedZsk();
    const presigner = new Presigner(origin, { ...times, jitter });
    presigner.start([key]);
    const zone = read(presigner);
    expect(calls()).toBe(AHEAD);
    const signed = await signZone(zone, { ...optionsWith(key), jitter, presigned: presigner });
    expect([...printZone(signed)]).toEqual([...printZone(plain)]);
    // the expirations spread (the fifth field of an RRSIG's RDATA)
    expect(new Set([...printZone(signed)].filter((l) => /\tRRSIG\t/.test(l)).map((l) => l.split('\t')[4]!.split(' ')[4])).size).toBeGreaterThan(1);
    expect(presigner.used).toBe(AHEAD - WRONG);
    expect(calls() - AHEAD).toBe(signatures(signed) - 1 - (AHEAD - WRONG));
  });

  it('a signature made ahead with a key that does not sign in the end (the planner rolled it meanwhile) is not used: the zone is signed by the key that signs', async () => {
    const successor = threadedKey(softwareKey(Algorithm.RSASHA256, 'zsk'));
    const plain = await signZone(read(undefined), optionsWith(successor.key));
    const askedBefore = successor.calls();
    const expected = threadedZsk();
    const presigner = new Presigner(origin, times);
    presigner.start([expected.key]);
    const zone = read(presigner);
    expect(expected.calls()).toBe(AHEAD);
    const signed = await signZone(zone, { ...optionsWith(successor.key), presigned: presigner });
    expect(presigner.used).toBe(0);
    expect([...printZone(signed)]).toEqual([...printZone(plain)]);
    // every signature of the zone data by the key that signs, asked of it (the one of the DNSKEY RRset by the KSK)
    expect(successor.calls() - askedBefore).toBe(signatures(signed) - 1);
  });
});
