import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { simulate } from '../../test/helpers/simulate.js';
import { softwareKey } from '../../test/helpers/software-signer.js';
import { verifySignedZone } from '../../test/integration/helpers/run.js';
import { Name } from '../dns/name.js';
import { RRType } from '../dns/types.js';
import { textSource } from '../dns/zonefile/memory-source.js';
import { parseZoneFile } from '../dns/zonefile/parser.js';
import { Algorithm } from '../dnssec/algorithms.js';
import { signZone } from '../dnssec/sign-zone.js';
import { verifyZone } from '../dnssec/verify-zone.js';
import { loadPolicies } from '../kasp/load.js';
import type { Policy } from '../kasp/policy.js';
import { printZone } from '../zone/print.js';
import { ZoneBuilder, type Zone } from '../zone/zone.js';
import { signsData } from './keys.js';
import { timings } from './timing.js';
import { inputTtls, policySigning, zoneFacts } from './zone-facts.js';

const ROOT = join(import.meta.dirname, '../..');
const DP = loadPolicies(readFileSync(join(ROOT, 'kasp/default.yaml'), 'utf8'), 'kasp/default.yaml').policies[0]!;
const ORIGIN = Name.parse('example.test.');
const START = Date.UTC(2027, 0, 1) / 1000;
const DAY = 86400;
// signatures are dated around this machine's clock, so that the validators accept them
const REAL_NOW = Math.floor(Date.now() / 3600_000) * 3600;

interface InputMix {
  readonly soa: number;
  readonly ns: number;
  readonly www: readonly [number, number];
  readonly mx: number;
  readonly txt: number;
  readonly delegation: number;
  readonly ds: number;
}

/** An unsigned zone with the TTLs of `t`: apex, two-record RRsets with differing TTLs, a signed delegation with glue. */
function inputZone(t: InputMix): Zone {
  const text = `$ORIGIN example.test.
@ ${t.soa} IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ ${t.ns} IN NS ns1
@ ${t.mx} IN MX 10 mail
ns1 ${t.ns} IN A 192.0.2.1
mail ${t.mx} IN A 192.0.2.2
www ${t.www[0]} IN A 192.0.2.3
www ${t.www[1]} IN A 192.0.2.4
txt ${t.txt} IN TXT "v=spf1 -all"
sub ${t.delegation} IN NS ns.sub
sub ${t.ds} IN DS 12345 13 2 ${'AB'.repeat(32)}
ns.sub ${t.delegation} IN A 192.0.2.9
`;
  const b = new ZoneBuilder(ORIGIN);
  for (const r of parseZoneFile(textSource('input.zone', text), { origin: ORIGIN })) b.add(r);
  return b.freeze();
}

/** Signs `input` as a managed zone under `policy` is signed (the same forced SOA fields and TTLs). */
async function signAsManaged(input: Zone, policy: Policy): Promise<{ signed: Zone; dataTags: Set<number> }> {
  const csk = policy.keys.some((k) => k.role === 'csk');
  const keys = csk ? [softwareKey(Algorithm.ED25519, 'csk')] : [softwareKey(Algorithm.ED25519, 'ksk'), softwareKey(Algorithm.ED25519, 'zsk')];
  const signed = await signZone(input, {
    ...policySigning(policy),
    keys,
    denial:
      policy.denial.type === 'nsec'
        ? { kind: 'nsec' }
        : { kind: 'nsec3', iterations: policy.denial.iterations, salt: new Uint8Array(policy.denial.saltLength), optOut: false },
    inception: REAL_NOW - 3600,
    expiration: REAL_NOW + 32 * DAY,
    ...(policy.parent.cds || policy.parent.cdnskey ? { cds: { digestTypes: policy.parent.dsDigests } } : {}),
  });
  return { signed, dataTags: new Set(keys.filter((k) => k.role !== 'ksk').map((k) => k.signer.keyTag)) };
}

/** What the signed zone itself says: the TTL of its DNSKEY RRset, and the largest TTL of a signature by a key that signs the data. */
function signedTtls(signed: Zone, dataTags: ReadonlySet<number>): { dnskey: number; dataSignatures: number } {
  let dataSignatures = 0;
  for (const set of signed.rrsets()) {
    if (set.type !== RRType.RRSIG) continue;
    for (const r of set.records) if (dataTags.has((r.rdata[16]! << 8) | r.rdata[17]!)) dataSignatures = Math.max(dataSignatures, r.ttl);
  }
  return { dnskey: signed.get(ORIGIN)!.rrsets.find((s) => s.type === RRType.DNSKEY)!.records[0]!.ttl, dataSignatures };
}

function verifyFile(signed: Zone): string {
  const dir = mkdtempSync(join(tmpdir(), 'hms-facts-'));
  try {
    const file = join(dir, 'signed.zone');
    writeFileSync(file, [...printZone(signed)].join('\n') + '\n', 'latin1');
    return verifySignedZone('example.test', file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TEN_SECONDS: InputMix = { soa: 10, ns: 10, www: [10, 10], mx: 10, txt: 10, delegation: 10, ds: 10 };
/** The users' report: SOA and NSEC3PARAM forced to an hour on a zone whose own TTLs are 10 s. */
const HOUR_SOA: Policy = { ...DP, soa: { ...DP.soa, ttl: 3600, minimum: 3600 }, ttl: { dnskey: 600, nsec3param: 3600 } };

describe('the zone facts are those of the signed zone (RFC 7583 TTLsig)', () => {
  it('count the TTLs the policy forces: SOA, NSEC3PARAM, NSEC3 (RFC 9077), DNSKEY, CDS and CDNSKEY', async () => {
    const input = inputZone(TEN_SECONDS);
    expect(zoneFacts(inputTtls(input), HOUR_SOA)).toEqual({ maxTtl: 3600 });
    // each forced TTL alone
    const base: Policy = { ...DP, soa: { ...DP.soa, ttl: null, minimum: 5 }, ttl: { dnskey: 5, nsec3param: 5 } };
    expect(zoneFacts(inputTtls(input), base)).toEqual({ maxTtl: 10 });
    expect(zoneFacts(inputTtls(input), { ...base, soa: { ...base.soa, ttl: 7200 } })).toEqual({ maxTtl: 7200 });
    expect(zoneFacts(inputTtls(input), { ...base, ttl: { ...base.ttl, nsec3param: 900 } })).toEqual({ maxTtl: 900 });
    expect(zoneFacts(inputTtls(input), { ...base, denial: { type: 'nsec' }, ttl: { ...base.ttl, nsec3param: 900 } })).toEqual({ maxTtl: 10 });
    expect(zoneFacts(inputTtls(input), { ...base, ttl: { ...base.ttl, dnskey: 1800 } })).toEqual({ maxTtl: 1800 });
    // NSEC3 gets min(SOA MINIMUM, SOA TTL): a MINIMUM above the SOA TTL does not count
    expect(zoneFacts(inputTtls(input), { ...base, soa: { ...base.soa, minimum: 3600 } })).toEqual({ maxTtl: 10 });
    expect(zoneFacts(inputTtls(input), { ...base, soa: { ...base.soa, ttl: 7200, minimum: 3600 } })).toEqual({ maxTtl: 7200 });
    // the DS of a child zone signed here, with its own policy's TTL
    expect(zoneFacts(inputTtls(input), base, [86400])).toEqual({ maxTtl: 86400 });
    // an RRset is signed with the lowest TTL of its records, as the signer writes it
    expect(inputTtls(inputZone({ ...TEN_SECONDS, www: [20, 86400] }))).toEqual({ soaTtl: 10, maxTtl: 20 });

    // and the signed zone says the same
    const { signed, dataTags } = await signAsManaged(input, HOUR_SOA);
    expect(signedTtls(signed, dataTags).dataSignatures).toBe(3600);
    expect(verifyZone(signed, REAL_NOW)).toEqual([]);
    expect(verifyFile(signed)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
  });

  it("RFC 7583 section 3.2.1 the users' report: the old ZSK stays until its SOA and NSEC3PARAM signatures (TTL 3600) have left every cache", async () => {
    const input = inputZone(TEN_SECONDS);
    const facts = zoneFacts(inputTtls(input), HOUR_SOA);
    const t = timings(HOUR_SOA, facts);
    expect(t.retireZsk).toBe(HOUR_SOA.zone.propagationDelay + 3600 + HOUR_SOA.zone.retireSafety);
    const { signed, dataTags } = await signAsManaged(input, HOUR_SOA);
    const ttls = signedTtls(signed, dataTags);
    const cache = {
      dnskey: HOUR_SOA.zone.propagationDelay + ttls.dnskey,
      signatures: HOUR_SOA.zone.propagationDelay + ttls.dataSignatures,
      ds: HOUR_SOA.parent.propagationDelay + HOUR_SOA.parent.dsTtl,
    };
    const log = await simulate({ policy: HOUR_SOA, zone: facts, cache, start: START, days: 200, kskRolls: [], operatorDelay: DAY, makeKey: stand });
    expect(log.keys.filter((k) => k.role === 'zsk' && k.remove !== null).length).toBe(2);
    expect(log.safety).toEqual([]);
  });

  it('RFC 7583 the ZSK retire property: over random policies and input TTL mixes, no signature in any cache outlives its DNSKEY, through ZSK, KSK and CSK rolls', async () => {
    const ttl = fc.oneof(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 2 * DAY }));
    const margin = fc.integer({ min: 0, max: 7200 });
    const mix = fc.record({ soa: ttl, ns: ttl, www: fc.tuple(ttl, ttl), mx: ttl, txt: ttl, delegation: ttl, ds: ttl });
    const policyArb = fc
      .record({
        shape: fc.constantFrom('double-ksk', 'double-ds', 'csk'),
        nsec3: fc.boolean(),
        cds: fc.boolean(),
        dnskeyTtl: fc.integer({ min: 60, max: 3600 }),
        nsec3paramTtl: fc.integer({ min: 0, max: DAY }),
        soaTtl: fc.option(ttl, { nil: null }),
        minimum: ttl,
        dprp: margin,
        publishSafety: margin,
        retireSafety: margin,
        parentDprp: margin,
        dsTtl: fc.integer({ min: 60, max: 2 * DAY }),
        parentPublish: margin,
        parentRetire: margin,
        zskDays: fc.integer({ min: 3, max: 12 }),
      })
      .map((p): Policy => ({
        ...DP,
        keys:
          p.shape === 'csk'
            ? [{ role: 'csk', algorithm: 15, bits: 256, lifetime: null }]
            : [
                { role: 'ksk', algorithm: 15, bits: 256, lifetime: null },
                { role: 'zsk', algorithm: 15, bits: 256, lifetime: p.zskDays * DAY },
              ],
        rollover: { zsk: 'pre-publication', ksk: p.shape === 'double-ds' ? 'double-ds' : 'double-ksk' },
        denial: p.nsec3 ? DP.denial : { type: 'nsec' },
        ttl: { dnskey: p.dnskeyTtl, nsec3param: p.nsec3paramTtl },
        soa: { ...DP.soa, ttl: p.soaTtl, minimum: p.minimum },
        zone: { propagationDelay: p.dprp, publishSafety: p.publishSafety, retireSafety: p.retireSafety },
        parent: {
          ...DP.parent,
          propagationDelay: p.parentDprp,
          dsTtl: p.dsTtl,
          publishSafety: p.parentPublish,
          retireSafety: p.parentRetire,
          cds: p.cds,
          cdnskey: p.cds,
        },
      }));
    await fc.assert(
      fc.asyncProperty(policyArb, mix, fc.integer({ min: 4, max: 20 }), fc.integer({ min: 0, max: 2 * DAY }), async (policy, ttls, rollDay, operatorDelay) => {
        const input = inputZone(ttls);
        const { signed, dataTags } = await signAsManaged(input, policy);
        expect(verifyZone(signed, REAL_NOW)).toEqual([]);
        // the oracle: how long the signed zone's own records may sit in caches
        const s = signedTtls(signed, dataTags);
        const cache = {
          dnskey: policy.zone.propagationDelay + s.dnskey,
          signatures: policy.zone.propagationDelay + s.dataSignatures,
          ds: policy.parent.propagationDelay + policy.parent.dsTtl,
        };
        const log = await simulate({
          policy,
          zone: zoneFacts(inputTtls(input), policy),
          cache,
          start: START,
          days: 40,
          kskRolls: [rollDay],
          operatorDelay,
          makeKey: stand,
        });
        // a key that signed the data has left the zone (the roll was seen through), and at no step did a cache hold a signature it could not validate
        expect(log.keys.some((k) => signsData(k) && k.remove !== null && k.remove <= START + 40 * DAY)).toBe(true);
        expect(log.safety).toEqual([]);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});

let tags = 1000;
function stand(): Promise<{ id: string; keyTag: number; dnskey: Uint8Array }> {
  const tag = tags++;
  return Promise.resolve({ id: `k${tag}`, keyTag: tag, dnskey: new Uint8Array([tag >> 8, tag & 0xff]) });
}
