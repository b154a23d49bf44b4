import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Name } from '../../src/dns/name.js';
import { signZone } from '../../src/dnssec/sign-zone.js';
import type { SigningKey } from '../../src/dnssec/signer.js';
import { verifyZone } from '../../src/dnssec/verify-zone.js';
import { generateKey, hsmSigner, type HsmKey } from '../../src/hsm/keys.js';
import { Token } from '../../src/hsm/token.js';
import { inputTtls, zoneFacts } from '../../src/enforcer/zone-facts.js';
import { loadPolicies } from '../../src/kasp/load.js';
import { loadZoneFile } from '../../src/service/load-zone.js';
import { printZone } from '../../src/zone/print.js';
import { simulate } from '../helpers/simulate.js';
import { ROOT, verifySignedZone } from './helpers/run.js';
import { throwawayToken } from './helpers/softhsm.js';

const ORIGIN = Name.parse('example.com.');
const DP = loadPolicies(readFileSync(join(ROOT, 'kasp/default.yaml'), 'utf8'), 'kasp/default.yaml').policies[0]!;
let hsm: ReturnType<typeof throwawayToken>;
let token: Token;

beforeAll(async () => {
  hsm = throwawayToken('hms-enforcer');
  token = Token.open({ label: 'hms-enforcer', pin: hsm.pin, sessions: 2 });
  await token.startSigningThreads();
});
afterAll(async () => {
  await token?.close();
  hsm?.dispose();
});

describe('two years of key rolls with keys in SoftHSM', () => {
  it('DP-4.3b DP-4.3c under kasp/default.yaml: 8 ZSK rolls, 2 KSK rolls, every version passes the three validators and the RFC 7583 safety check', async () => {
    const unsigned = loadZoneFile(join(ROOT, 'examples/zones/example.com.zone'), ORIGIN);
    const hsmKeys = new Map<string, HsmKey>();
    const verdicts: string[] = [];
    // the validators judge signatures by this machine's clock, the planner runs on the
    // simulated one: signatures are dated around the real now, the keys by the simulation
    const realNow = Math.floor(Date.now() / 1000);
    const log = await simulate({
      policy: DP,
      zone: zoneFacts(inputTtls(unsigned), DP),
      start: Date.UTC(2027, 0, 1) / 1000,
      days: 730,
      kskRolls: [200, 560],
      operatorDelay: 86400,
      makeKey: (g) => {
        const key = generateKey(token, ORIGIN, g.role, { algorithm: g.algorithm, bits: g.bits });
        const id = key.id.toString('hex');
        hsmKeys.set(id, key);
        return Promise.resolve({ id, keyTag: key.keyTag, dnskey: key.dnskey });
      },
      onVersion: async (now, view) => {
        const signing: SigningKey[] = [
          ...view.dnskeySigners.map((k) => ({ signer: hsmSigner(token, hsmKeys.get(k.id)!), role: 'ksk' as const })),
          ...view.dataSigners.map((k) => ({ signer: hsmSigner(token, hsmKeys.get(k.id)!), role: 'zsk' as const })),
        ];
        const signed = await signZone(unsigned, {
          keys: signing,
          dnskeys: view.dnskeys.map((k) => k.dnskey),
          dnskeyTtl: DP.ttl.dnskey,
          denial: { kind: 'nsec3', iterations: 0, salt: new Uint8Array(8).fill(now & 0xff), optOut: false },
          inception: realNow - 3600,
          expiration: realNow - 3600 + DP.signatures.validity,
        });
        expect(verifyZone(signed, realNow)).toEqual([]);
        const file = join(hsm.dir, 'version.zone');
        writeFileSync(file, [...printZone(signed)].join('\n') + '\n', 'latin1');
        const verdict = verifySignedZone('example.com', file);
        verdicts.push(`${new Date(now * 1000).toISOString()} DNSKEY {${view.dnskeys.map((k) => k.keyTag).join(' ')}}: ${verdict.trim().replace(/\n/g, ', ')}`);
      },
    });
    const generated = (role: string): number => log.events.filter((e) => e.what.startsWith(`generate ${role}`)).length;
    expect(generated('zsk')).toBe(1 + 8);
    expect(generated('ksk')).toBe(1 + 2);
    expect(log.safety).toEqual([]);
    expect(verdicts.length).toBe(log.versions);
    expect(verdicts.filter((v) => !v.endsWith('PASS dnssec-verify, PASS ldns-verify-zone, PASS kzonecheck'))).toEqual([]);
    expect(verdicts.length).toBeGreaterThan(30);
  }, 300_000);
});
