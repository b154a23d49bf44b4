import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { softwareKey } from '../../test/helpers/software-signer.js';
import { Name } from '../dns/name.js';
import { textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { printZone } from '../zone/print.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { Algorithm } from './algorithms.js';
import { signZone, signZoneTo, type Denial, type SignProgress, type SignZoneOptions } from './sign-zone.js';

const origin = Name.parse('progress.example.');

/** 1,000 names of two records each, and a delegation with glue every 100. */
function zone(): Zone {
  const lines = ['$TTL 3600', '@ SOA ns1 hostmaster 1 7200 900 1209600 300', '@ NS ns1', 'ns1 A 192.0.2.53'];
  for (let i = 0; i < 1000; i++) {
    if (i % 100 === 0) lines.push(`sub${i} NS ns.sub${i}`, `ns.sub${i} A 192.0.2.1`);
    lines.push(`h${i} A 192.0.2.${i % 250}`, `h${i} TXT "n${i}"`);
  }
  const b = new ZoneBuilder(origin);
  for (const r of parseZoneFile(textSource('progress.zone', `${lines.join('\n')}\n`), { origin })) b.add(r);
  return b.freeze();
}

const KEYS = [softwareKey(Algorithm.ED25519, 'ksk'), softwareKey(Algorithm.ED25519, 'zsk')];
const options = (denial: Denial): SignZoneOptions => ({ keys: KEYS, denial, inception: 1_764_000_000, expiration: 1_766_764_800, window: 128 });
const DENIALS: [string, Denial][] = [
  ['NSEC', { kind: 'nsec' }],
  ['NSEC3', { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false }],
];

describe('signZoneTo reports its progress to an injected callback (issue 19)', () => {
  for (const [name, denial] of DENIALS) {
    it(`${name}: counters once a batch, never per record, ending at the summary; the signed zone is unchanged`, async () => {
      const input = zone();
      const seen: SignProgress[] = [];
      let emitted = 0;
      const summary = await signZoneTo(input, { ...options(denial), progress: (p) => seen.push({ ...p }) }, () => emitted++);
      // a call before the first name, one for each batch of about window / 2 signatures, one at the end
      expect(seen.length).toBeGreaterThan(summary.signatures / 128);
      expect(seen.length).toBeLessThan(summary.signatures / 64 + 4);
      expect(seen[0]).toEqual({ recordsRead: 0, recordsTotal: input.recordCount, names: 0, namesTotal: input.nodes.length, records: 0, signatures: 0 });
      for (let i = 1; i < seen.length; i++) {
        for (const k of ['recordsRead', 'names', 'records', 'signatures'] as const) expect(seen[i]![k]).toBeGreaterThanOrEqual(seen[i - 1]![k]);
        expect(seen[i]!.names).toBeLessThanOrEqual(seen[i]!.namesTotal);
      }
      expect(seen.at(-1)).toEqual({
        recordsRead: input.recordCount,
        recordsTotal: input.recordCount,
        names: summary.nodes,
        namesTotal: summary.nodes,
        records: summary.records,
        signatures: summary.signatures,
      });
      expect(emitted).toBe(summary.nodes);
      // NSEC3: the names to come are estimated while the zone is walked, within a tenth of the truth
      for (const p of seen.slice(1)) expect(Math.abs(p.namesTotal - summary.nodes) / summary.nodes).toBeLessThan(0.1);
      // the same signed zone with or without a progress callback (Ed25519 signatures are deterministic)
      expect(printZone(await signZone(input, { ...options(denial), progress: () => undefined }))).toEqual(printZone(await signZone(input, options(denial))));
    });
  }
});

describe('signZoneTo as the zone’s last reader (consume, issue 20: the peak of a large re-sign)', () => {
  // a full collection on demand (node's flag set at run time; the test runner gives none)
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  for (const [name, denial] of DENIALS) {
    it(`${name}: each name is let go once signed and the zone holds none after; the signed zone is the same`, async () => {
      const kept = zone();
      const input = zone();
      const early = new WeakRef(input.get(Name.parse('h1.progress.example.'))!);
      const held = new WeakRef(kept.get(Name.parse('h1.progress.example.'))!);
      const collectedLate: boolean[] = [];
      const check = async (z: Zone, consume: boolean, ref: WeakRef<object>): Promise<string> => {
        const out = new ZoneBuilder(origin);
        let emitted = 0;
        await signZoneTo(z, { ...options(denial), consume }, (node) => {
          // near the end (h1 was signed long before), in a later task than the one that made the reference
          if (++emitted === 1000) {
            gc();
            collectedLate.push(ref.deref() === undefined);
          }
          for (const set of node.rrsets)
            for (const r of set.records) out.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: '-', line: 0 });
        });
        return [...printZone(out.freeze())].join('\n');
      };
      await new Promise((resolve) => setTimeout(resolve, 0));
      const consumed = await check(input, true, early);
      const read = await check(kept, false, held);
      expect(consumed).toEqual(read);
      expect(collectedLate).toEqual([true, false]);
      expect(() => input.nodes).toThrow(/handed to the signer/);
      expect(() => input.get(origin)).toThrow(/handed to the signer/);
      expect(kept.nodes.length).toBeGreaterThan(1000);
    });
  }
});
