import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateZone } from '../../scripts/bench/zone-generator.js';
import { hmsConfig, REPOSITORY } from '../../scripts/lab/configs.js';
import { afterServiceTests, highPort, startHmsRun, type Daemon } from './helpers/daemons.js';
import { HMS, runAsync } from './helpers/run.js';
import { serviceFolder } from './helpers/service.js';

/**
 * Issue 20 item 2a: the service's re-sign signs ahead while it reads the input, as `hms sign`
 * does (readSigningAhead): the keys that sign are known before the read, so the signing
 * threads have work from the first records. Two zones of 5,000 records through `hms run`,
 * one with the DP policy, one whose policy spreads the expirations (signatures.jitter): each
 * re-sign logs how many signatures made ahead it used, and every signed version passes
 * dnssec-verify, ldns-verify-zone and kzonecheck (afterServiceTests). On the old code a run
 * signed nothing ahead (no `signedAhead`).
 */
const ZONES = ['ahead.example', 'spread.example'] as const;
let tmp: string;
let token: { dispose(): void } | undefined;
let config: string;
let service: Daemon;
const daemons: Daemon[] = [];

const signedLine = (zone: string): RegExp => new RegExp(`"zone":"${zone.replace(/\./g, '\\.')}\\."[^\\n]*"msg":"zone signed and published"`);

beforeAll(async () => {
  ({ tmp, token } = serviceFolder('hms-presign-', 'hms-presign'));
  writeFileSync(join(tmp, 'xfr.secret'), 'cHJlc2lnbi10ZXN0LXNlY3JldC1vZi0zMi1vY3RldHMhIQ==\n', { mode: 0o600 });
  for (const zone of ZONES) await generateZone(join(tmp, 'zones', `${zone}.zone`), zone, 5_000);
  writeFileSync(
    join(tmp, 'policy.yaml'),
    'policies:\n  spread:\n    description: the DP policy, expirations spread over 6 hours\n    signatures: { jitter: 6h }\n',
  );
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    hmsConfig({
      token: 'hms-presign',
      listen: `127.0.0.1:${highPort()}`,
      policies: [join(REPOSITORY, 'kasp/default.yaml'), 'policy.yaml'],
      example: false,
      zones: `  ${ZONES[0]}: { input: zones/${ZONES[0]}.zone, policy: dp }\n  ${ZONES[1]}: { input: zones/${ZONES[1]}.zone, policy: spread }\n`,
    }),
  );
  service = await startHmsRun(config, signedLine(ZONES[0]), { registry: daemons, timeoutMs: 240_000 });
  await service.waitFor(signedLine(ZONES[1]), 240_000);
}, 300_000);

afterServiceTests(daemons, () => ({ tmp, token }));

interface Signed {
  signatures: number;
  signedAhead?: number;
  revision: number;
}

/** The zone's 'zone signed and published' lines logged after `from`. */
const signedAfter = (zone: string, from: number): Signed[] =>
  service
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => signedLine(zone).test(l))
    .map((l) => JSON.parse(l) as Signed);

async function resign(zone: string): Promise<Signed> {
  const from = service.output().length;
  const r = await runAsync('node', [HMS, 'zone', 'resign', zone, '--config', config], { timeoutMs: 240_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  await service.waitFor(signedLine(zone), 60_000, from);
  return signedAfter(zone, from)[0]!;
}

describe("the service's re-sign signs ahead while it reads the input (issue 20 item 2a)", () => {
  for (const zone of ZONES) {
    it(`OPS-7 hms zone resign ${zone}: signatures made while the input was read are used, and the signed version verifies`, async () => {
      const first = signedAfter(zone, 0)[0]!;
      const logged = await resign(zone);
      // a zone of 5,000 records: its NSEC3 records' signatures and the SOA's are made after the read, the rest may be made during it
      expect(logged.signatures).toBeGreaterThan(5_000);
      expect(logged.signedAhead).toBeGreaterThan(0);
      expect(logged.signedAhead).toBeLessThan(logged.signatures);
      // the same input: the same revision (known by the records read, not printed again)
      expect(logged.revision).toBe(first.revision);
    }, 300_000);
  }

  it('DP-2.6 an input changed is kept as a new revision and signed ahead; the re-sign after keeps that revision', async () => {
    const zone = ZONES[0];
    const before = signedAfter(zone, 0).at(-1)!;
    const from = service.output().length;
    appendFileSync(join(tmp, 'zones', `${zone}.zone`), 'added-by-test 3600 IN A 192.0.2.77\n');
    await service.waitFor(signedLine(zone), 120_000, from);
    const changed = signedAfter(zone, from)[0]!;
    expect(changed.revision).toBe(before.revision + 1);
    expect(changed.signedAhead).toBeGreaterThan(0);
    expect((await resign(zone)).revision).toBe(changed.revision);
  }, 300_000);
});
