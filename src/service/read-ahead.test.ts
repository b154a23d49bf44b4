import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { softwareKey, threadedKey } from '../../test/helpers/software-signer.js';
import { verifySignedZone } from '../../test/integration/helpers/run.js';
import { Name } from '../dns/name.js';
import { Algorithm } from '../dnssec/algorithms.js';
import { signZone, type SignZoneOptions } from '../dnssec/sign-zone.js';
import type { SigningKey } from '../dnssec/signer.js';
import { printZone } from '../zone/print.js';
import { readZoneFile } from './load-zone.js';
import { readSigningAhead } from './read-ahead.js';

const origin = Name.parse('read.example.');
// the validators judge signatures by this machine's clock
const NOW = Math.floor(Date.now() / 3600_000) * 3600;
const times = { inception: NOW - 3600, expiration: NOW + 32 * 86400, jitter: 6 * 3600 };
const dir = mkdtempSync(join(tmpdir(), 'hms-read-ahead-'));
const file = join(dir, 'read.zone');
// 2 + 3 * 300 records: SOA and NS (never signed ahead), then 300 names with an A and a TXT each, and a cut with its glue
const NAMES = 300;
writeFileSync(
  file,
  [
    '$TTL 3600',
    '@ SOA ns1 hostmaster 1 7200 900 1209600 300',
    '@ NS ns1',
    'ns1 A 192.0.2.53',
    ...Array.from({ length: NAMES }, (_, i) => `h${i} A 192.0.2.${i % 250}\nh${i} TXT "host ${i}"`),
    'sub NS ns.sub',
    'ns.sub A 192.0.2.99',
  ].join('\n') + '\n',
);
/** RRsets a read signs ahead: ns1 A and every h*'s A and TXT (not the SOA, the NS or the glue). */
const AHEAD = 1 + 2 * NAMES;
const ksk = softwareKey(Algorithm.RSASHA256, 'ksk');
const zsk = softwareKey(Algorithm.RSASHA256, 'zsk');
const options = (z: SigningKey): SignZoneOptions => ({ keys: [ksk, z], denial: { kind: 'nsec' }, ...times });

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading a zone file while its signatures are asked for (readSigningAhead: hms sign and the service)', () => {
  it('OPS-7 reads the zone readZoneFile reads, signs its RRsets ahead with the keys given, and the zone signed with them is the one signed without; it passes the validators', async () => {
    const plain = await signZone(await readZoneFile(file, origin), options(threadedKey(zsk).key));
    const threaded = threadedKey(zsk);
    let seen = 0;
    const { zone, presigner } = await readSigningAhead(file, origin, { times, keys: [threaded.key] }, { pause: 50, observe: () => seen++ });
    expect(seen).toBe(3 + 2 * NAMES + 2);
    expect(zone.recordCount).toBe(seen);
    expect(threaded.calls()).toBe(AHEAD);
    const signed = await signZone(zone, { ...options(threaded.key), presigned: presigner });
    expect(presigner.used).toBe(AHEAD);
    expect([...printZone(signed)]).toEqual([...printZone(plain)]);
    const out = join(dir, 'read.signed');
    writeFileSync(out, [...printZone(signed)].join('\n') + '\n', 'latin1');
    expect(verifySignedZone('read.example', out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
  }, 60_000);

  it('keys given later (the signing threads starting): what is read before is not signed ahead; keys that never come: nothing is', async () => {
    const threaded = threadedKey(zsk);
    let ready!: (keys: readonly SigningKey[]) => void;
    let read = 0;
    const { presigner } = await readSigningAhead(
      file,
      origin,
      { times, keys: new Promise<readonly SigningKey[]>((resolve) => (ready = resolve)) },
      {
        pause: 50,
        observe: () => {
          // 100 records read: the keys are there at the next turn of the event loop (the 150th record)
          if (++read === 100) ready([threaded.key]);
        },
      },
    );
    expect(threaded.calls()).toBeGreaterThan(0);
    expect(threaded.calls()).toBeLessThan(AHEAD - 60);
    expect(presigner.used).toBe(0);

    const failed = await readSigningAhead(file, origin, { times, keys: Promise.reject(new Error('the token cannot be opened')) });
    expect(failed.zone.recordCount).toBe(3 + 2 * NAMES + 2);
    const signed = await signZone(failed.zone, { ...options(threadedKey(zsk).key), presigned: failed.presigner });
    expect(failed.presigner.used).toBe(0);
    expect(signed.recordCount).toBeGreaterThan(failed.zone.recordCount);
  }, 60_000);
});
