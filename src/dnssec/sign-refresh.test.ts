import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { softwareKey } from '../../test/helpers/software-signer.js';
import { verifySignedZone } from '../../test/integration/helpers/run.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { memoryIncludes, textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { printZone } from '../zone/print.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { Algorithm } from './algorithms.js';
import { decodeRrsig } from './rrsig.js';
import { signZoneTo, type SignSummary, type SignZoneOptions } from './sign-zone.js';
import { verifyZone } from './verify-zone.js';

const origin = Name.parse('corpus.example.');
// the validators judge signatures by this machine's clock
const NOW = Math.floor(Date.now() / 3600_000) * 3600;
const DAY = 86400;
const ZONES = join(import.meta.dirname, '../../test/fixtures/zones');
const CORPUS = readFileSync(join(ZONES, 'corpus.zone'), 'latin1');

function load(text: string): Zone {
  const b = new ZoneBuilder(origin);
  const files = { 'corpus-include.zone': readFileSync(join(ZONES, 'corpus-include.zone'), 'latin1') };
  for (const r of parseZoneFile(textSource('z', text), { origin, include: memoryIncludes(files) })) b.add(r);
  return b.freeze();
}

const ksk = softwareKey(Algorithm.ECDSAP256SHA256, 'ksk');
const zsk = softwareKey(Algorithm.ECDSAP256SHA256, 'zsk');
const denial = { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false } as const;

/** Signs at `at` (inception an hour before, 32 days' validity), with the serial moved to `serial`. */
async function signAt(zone: Zone, at: number, serial: number, more: Partial<SignZoneOptions> = {}): Promise<{ zone: Zone; summary: SignSummary }> {
  const b = new ZoneBuilder(origin);
  const summary = await signZoneTo(zone, { keys: [ksk, zsk], denial, inception: at - 3600, expiration: at + 32 * DAY, serial, ...more }, (node) => {
    for (const set of node.rrsets)
      for (const r of set.records) b.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: '(signed)', line: 0 });
  });
  return { zone: b.freeze(), summary };
}

function rrsigs(zone: Zone): { owner: string; covered: number; expiration: number; inception: number; rdata: string }[] {
  return zone.nodes.flatMap((n) =>
    n.rrsets
      .filter((s) => s.type === RRType.RRSIG)
      .flatMap((s) =>
        s.records.map((r) => {
          const sig = decodeRrsig(r.rdata);
          return {
            owner: n.name.toString(),
            covered: sig.typeCovered,
            expiration: sig.expiration,
            inception: sig.inception,
            rdata: Buffer.from(r.rdata).toString('hex'),
          };
        }),
      ),
  );
}

function passesValidators(zone: Zone): void {
  expect(verifyZone(zone, NOW)).toEqual([]);
  const tmp = mkdtempSync(join(tmpdir(), 'hms-refresh-'));
  try {
    const file = join(tmp, 'corpus.zone');
    writeFileSync(file, [...printZone(zone)].join('\n') + '\n', 'latin1');
    expect(verifySignedZone('corpus.example', file)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe('signatures.refresh and signatures.jitter (issue 20 item 5)', () => {
  it("DP-4.4a jitter moves each RRset's expiration earlier by 0 to jitter seconds, spread over the zone, the same for every key of one RRset", async () => {
    const jitter = 2 * DAY;
    const { zone } = await signAt(load(CORPUS), NOW, 10, { jitter });
    const sigs = rrsigs(zone);
    const latest = NOW + 32 * DAY;
    for (const s of sigs) {
      expect(s.expiration).toBeLessThanOrEqual(latest);
      expect(s.expiration).toBeGreaterThanOrEqual(latest - jitter);
    }
    const distinct = new Set(sigs.map((s) => s.expiration));
    expect(distinct.size).toBeGreaterThan(sigs.length / 2);
    const dnskey = sigs.filter((s) => s.covered === RRType.DNSKEY);
    expect(new Set(dnskey.map((s) => s.expiration)).size).toBe(1);
    passesValidators(zone);
    // a pure function: the same inputs, the same expirations
    const again = await signAt(load(CORPUS), NOW, 10, { jitter });
    expect(rrsigs(again.zone).map((s) => s.expiration)).toEqual(sigs.map((s) => s.expiration));
  });

  it("a re-sign keeps the signatures with more than refresh left over what did not change, and re-makes the SOA's and what changed", async () => {
    const first = await signAt(load(CORPUS), NOW - DAY, 10);
    expect(first.summary.kept).toBe(0);
    const changed = load(CORPUS.replace(/^(\S+\s+(?:\d+\s+)?(?:IN\s+)?TXT\s+)"/m, '$1"changed '));
    const next = await signAt(changed, NOW, 11, { keep: { previous: first.zone, refresh: 10 * DAY, now: NOW } });
    const before = new Set(rrsigs(first.zone).map((s) => s.rdata));
    const after = rrsigs(next.zone);
    const remade = after.filter((s) => !before.has(s.rdata));
    // the SOA (new serial) and the changed TXT RRset; its name's NSEC3 lists the same types
    expect(remade.map((s) => s.covered).sort((a, b) => a - b)).toEqual([RRType.SOA, RRType.TXT]);
    expect(next.summary.signatures).toBe(2);
    expect(next.summary.kept).toBe(after.length - 2);
    for (const s of remade) expect(s.inception).toBe(NOW - 3600);
    passesValidators(next.zone);
  });

  it('signatures with refresh or less left are re-made, and so are those of a key that no longer signs', async () => {
    const old = await signAt(load(CORPUS), NOW - 25 * DAY, 10);
    const due = await signAt(load(CORPUS), NOW, 11, { keep: { previous: old.zone, refresh: 10 * DAY, now: NOW } });
    expect(due.summary.kept).toBe(0);
    passesValidators(due.zone);
    const notDue = await signAt(load(CORPUS), NOW, 11, { keep: { previous: old.zone, refresh: 5 * DAY, now: NOW } });
    expect(notDue.summary.kept).toBeGreaterThan(0);

    // a new ZSK: none of the old ZSK's signatures stay, the KSK's over the DNSKEY set neither (the set changed)
    const fresh = softwareKey(Algorithm.ECDSAP256SHA256, 'zsk');
    const b = new ZoneBuilder(origin);
    const summary = await signZoneTo(
      load(CORPUS),
      { keys: [ksk, fresh], denial, inception: NOW - 3600, expiration: NOW + 32 * DAY, serial: 12, keep: { previous: old.zone, refresh: 5 * DAY, now: NOW } },
      (node) => {
        for (const set of node.rrsets)
          for (const r of set.records) b.add({ owner: set.owner, type: set.type, ttl: r.ttl, rdata: r.rdata, file: '(signed)', line: 0 });
      },
    );
    expect(summary.kept).toBe(0);
    passesValidators(b.freeze());
  });
});
