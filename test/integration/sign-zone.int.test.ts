import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { RRType } from '../../src/dns/types.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { signZone, type Denial } from '../../src/dnssec/sign-zone.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { checkZone } from '../../src/zone/checks.js';
import { printZone } from '../../src/zone/print.js';
import { softwareKey } from '../helpers/software-signer.js';
import type { SignatureSink, SigningKey } from '../../src/dnssec/signer.js';
import { hex } from '../helpers/rdata.js';
import { makeDs } from '../../src/dnssec/ds.js';
import { requireTool, ROOT, verifySignedZone } from './helpers/run.js';

/**
 * Zones signed by hms's zone signer (software keys here; HSM keys come with the key store).
 * The validators judge signatures by this machine's clock, so they are dated from it.
 */
const NOW = Math.floor(Date.now() / 3600_000) * 3600;
/** RRSIG times as the zone file shows them (YYYYMMDDHHmmSS, UTC). */
const stamp = (t: number): string => new Date(t * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
let tmp: string;

beforeAll(() => {
  for (const tool of ['dnssec-verify', 'ldns-verify-zone', 'kzonecheck']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-sign-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function verifyWithThreeTools(origin: string, text: string, name: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text, 'latin1');
  return verifySignedZone(origin, file);
}

const ZONES: [string, string][] = [
  ['example.com.', join(ROOT, 'examples/zones/example.com.zone')],
  ['corpus.example.', join(ROOT, 'test/fixtures/zones/corpus.zone')],
];
const DENIALS: [string, Denial][] = [
  ['NSEC', { kind: 'nsec' }],
  ['NSEC3 no salt, 0 iterations', { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false }],
  ['NSEC3 salt, 10 iterations', { kind: 'nsec3', iterations: 10, salt: Uint8Array.of(0xab, 0xcd, 0xef, 0x01), optOut: false }],
  ['NSEC3 opt-out', { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: true }],
];
const ALGORITHMS: [string, number][] = [
  ['RSASHA256', Algorithm.RSASHA256],
  ['ECDSAP256SHA256', Algorithm.ECDSAP256SHA256],
  ['ED25519', Algorithm.ED25519],
];

describe('signZone output passes dnssec-verify, ldns-verify-zone and kzonecheck', () => {
  for (const [origin, file] of ZONES) {
    for (const [algName, algorithm] of ALGORITHMS) {
      for (const [denialName, denial] of DENIALS) {
        if (algorithm !== Algorithm.RSASHA256 && denialName !== 'NSEC3 no salt, 0 iterations' && origin !== 'example.com.') continue;
        it(`DP-4.4a ${origin} ${algName} ${denialName}`, async () => {
          const zone = loadZoneFile(file, Name.parse(origin));
          const keys = [softwareKey(algorithm, 'ksk'), softwareKey(algorithm, 'zsk')];
          const signed = await signZone(zone, {
            keys,
            denial,
            inception: NOW - 3600,
            expiration: NOW - 3600 + 32 * 86400,
            dnskeyTtl: 3600,
            serial: 2026112299,
          });
          expect(checkZone(signed, { signed: true }).filter((f) => f.severity === 'error')).toEqual([]);
          const text = [...printZone(signed)].join('\n') + '\n';
          const verdict = verifyWithThreeTools(origin, text, `${origin}${algName}.${denialName.replace(/\W+/g, '-')}.zone`);
          expect(verdict).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
          // DP-4.4a: 32-day signatures; SOA serial as asked
          expect(text).toContain(`\tRRSIG\tSOA ${algorithm} 2 3600 ${stamp(NOW - 3600 + 32 * 86400)} ${stamp(NOW - 3600)} `);
          expect(signed.soa!.records.length).toBe(1);
          expect(signed.rrset(Name.parse(origin), RRType.DNSKEY)!.records.length).toBe(2);
        });
      }
    }
  }

  it('a CSK signs everything, with the SEP flag; ldns and Knot accept the zone', async () => {
    const zone = loadZoneFile(join(ROOT, 'examples/zones/example.com.zone'), Name.parse('example.com.'));
    const csk = softwareKey(Algorithm.ED25519, 'csk');
    const signed = await signZone(zone, { keys: [csk], denial: { kind: 'nsec' }, inception: NOW, expiration: NOW + 86400 * 32 });
    expect(csk.signer.dnskey[1]).toBe(1);
    // dnssec-verify needs -z for a CSK (the shared tool does not pass it); the other two do not
    expect(verifyWithThreeTools('example.com.', [...printZone(signed)].join('\n') + '\n', 'csk.signed')).toBe(
      'FAIL dnssec-verify: Missing ZSK for algorithm ED25519\nPASS ldns-verify-zone\nPASS kzonecheck\n',
    );
  });

  it('DP-4.7a CDS and CDNSKEY for the KSK (RFC 7344), signed by it, pass the three validators', async () => {
    const zone = loadZoneFile(join(ROOT, 'examples/zones/example.com.zone'), Name.parse('example.com.'));
    const keys = [softwareKey(Algorithm.RSASHA256, 'ksk'), softwareKey(Algorithm.RSASHA256, 'zsk')];
    const signed = await signZone(zone, {
      keys,
      denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
      inception: NOW,
      expiration: NOW + 86400 * 32,
      dnskeyTtl: 3600,
      cds: { digestTypes: [2] },
    });
    const apex = Name.parse('example.com.');
    expect(signed.rrset(apex, RRType.CDS)!.records.map((r) => hex(r.rdata))).toEqual([hex(makeDs(apex, keys[0]!.signer.dnskey, 2))]);
    expect(signed.rrset(apex, RRType.CDNSKEY)!.records.map((r) => hex(r.rdata))).toEqual([hex(keys[0]!.signer.dnskey)]);
    expect(verifyWithThreeTools('example.com.', [...printZone(signed)].join('\n') + '\n', 'cds.signed')).toBe(
      'PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n',
    );
  });

  it('a zone of only an apex signs and verifies', async () => {
    const text = '$TTL 300\n@ SOA ns.example.net. h.example.net. 1 7200 900 2592000 300\n@ NS ns.example.net.\n';
    const file = join(tmp, 'apex-only.zone');
    writeFileSync(file, text);
    const zone = loadZoneFile(file, Name.parse('apex.example.'));
    const signed = await signZone(zone, {
      keys: [softwareKey(Algorithm.ED25519, 'ksk'), softwareKey(Algorithm.ED25519, 'zsk')],
      denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false },
      inception: NOW,
      expiration: NOW + 86400 * 32,
    });
    expect(verifyWithThreeTools('apex.example.', [...printZone(signed)].join('\n') + '\n', 'apex-only.signed')).toBe(
      'PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n',
    );
  });

  it('signatures that come back through signTo out of order land where they belong; a failed one stops the run', async () => {
    const zone = loadZoneFile(join(ROOT, 'test/fixtures/zones/corpus.zone'), Name.parse('corpus.example.'));
    const keys = [softwareKey(Algorithm.RSASHA256, 'ksk'), softwareKey(Algorithm.RSASHA256, 'zsk')];
    const options = {
      denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(0), optOut: false } as Denial,
      inception: NOW,
      expiration: NOW + 86400 * 32,
      window: 8,
    };
    // as the HSM's signing threads answer: later, in batches, here each batch backwards
    const batched = (key: SigningKey, failAt?: number): SigningKey => {
      let queue: { data: Uint8Array; sink: SignatureSink; slot: number }[] = [];
      let asked = 0;
      const flush = async (): Promise<void> => {
        const batch = queue.reverse();
        queue = [];
        for (const r of batch) {
          if (r.data.length === 0) r.sink.failed(new Error('the HSM said no'));
          else r.sink.signed(r.slot, await key.signer.sign(r.data));
        }
      };
      return {
        role: key.role,
        signer: {
          ...key.signer,
          signTo: (data, sink, slot) => {
            if (queue.length === 0) setImmediate(() => void flush());
            queue.push({ data: asked++ === failAt ? new Uint8Array(0) : Uint8Array.from(data), sink, slot });
          },
        },
      };
    };
    const direct = [...printZone(await signZone(zone, { ...options, keys }))];
    const viaSignTo = [...printZone(await signZone(zone, { ...options, keys: keys.map((k) => batched(k)) }))];
    expect(viaSignTo).toEqual(direct); // RSA PKCS#1 v1.5: the same input, the same signature
    expect(verifyWithThreeTools('corpus.example.', viaSignTo.join('\n') + '\n', 'sign-to.signed')).toBe(
      'PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n',
    );
    expect(viaSignTo.filter((l) => l.split('\t')[3] === 'RRSIG').length).toBeGreaterThan(20);
    await expect(signZone(zone, { ...options, keys: [batched(keys[0]!), batched(keys[1]!, 17)] })).rejects.toThrow('the HSM said no');
  });
});
