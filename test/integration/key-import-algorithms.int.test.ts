import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Service } from '../../src/service/daemon.js';
import { logLines, serviceFolder } from './helpers/service.js';
import { dnskeyTags, sh as run } from './helpers/keys.js';
import { HMS, requireTool, verifyServiceOutput } from './helpers/run.js';
import type { throwawayToken } from './helpers/softhsm.js';

/**
 * Issue 18 part 2 (DP-3.1a): a zone moves in with its keys whatever algorithm its signer
 * used, of those hms signs with: RSASHA512, ECDSAP384SHA384 and Ed448 keys from BIND's files,
 * and an RSASHA512 pair already in the token (the token does not say which RSA algorithm: the
 * zone's policy does). The service then signs each zone with the same DNSKEY set, and the
 * three validators pass it. An algorithm hms does not sign with is refused by name.
 */
const me = userInfo().username;
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
const { log, lines } = logLines();
const operator = { user: 'hms-service(test)', groups: [] };

const ZONES = {
  'rsa.example': { policy: 'rsa512', algorithm: 'RSASHA512', ksk: ['-b', '2048'], zsk: ['-b', '1024'] },
  'p384.example': { policy: 'p384', algorithm: 'ECDSAP384SHA384', ksk: [], zsk: [] },
  'ed448.example': { policy: 'ed448', algorithm: 'ED448', ksk: [], zsk: [] },
} as const;

const sh = (cmd: string, args: string[]): string => run(cmd, args, tmp);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [HMS, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HMS_CONFIG: config } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The key tags of the DNSKEYs the service signed `zone` with. */
const signedTags = (zone: string): number[] =>
  dnskeyTags(join(tmp, `state/signed/${zone}.signed`), zone, tmp)
    .map(Number)
    .sort((a, b) => a - b);

const policy = (name: string, algorithm: string, bits = ''): string => `  ${name}:
    description: ${algorithm} keys, waits of seconds
    keys: { ksk: { algorithm: ${algorithm}, ${bits ? `bits: 2048, ` : ''}lifetime: manual }, zsk: { algorithm: ${algorithm}, ${bits ? `bits: 1024, ` : ''}lifetime: 90d } }
    denial: { type: nsec3, iterations: 0, salt-length: 0 }
    ttl: { dnskey: 1s, nsec3param: 1s }
    soa: { minimum: 300 }
    zone: { propagation-delay: 0, publish-safety: 0, retire-safety: 0 }
    parent: { propagation-delay: 0, ds-ttl: 1s, publish-safety: 0, retire-safety: 0 }
`;

beforeAll(() => {
  for (const tool of ['dnssec-keygen', 'dnssec-dsfromkey', 'softhsm2-util', 'openssl']) requireTool(tool);
  ({ tmp, token } = serviceFolder('hms-import-alg-', 'hms-ialg'));
  // DP-4.1a allows RSASHA256, ECDSAP256SHA256 and ED25519 only: these policies are held to RFC 9276's profile
  writeFileSync(
    join(tmp, 'algs.yaml'),
    `profile: rfc9276\npolicies:\n${policy('rsa512', 'RSASHA512', 'bits')}${policy('p384', 'ECDSAP384SHA384')}${policy('ed448', 'ED448')}`,
  );
  const zones = [...Object.keys(ZONES), 'ods.example'];
  for (const z of zones)
    writeFileSync(join(tmp, `zones/${z}.zone`), '$TTL 1h\n@ SOA ns1 hostmaster 1 2h 15m 30d 5m\n  NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n');
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/hms.db
policies: [algs.yaml]
hsm: { token: hms-ialg, pin-file: pin }
service:
  data: state
zones:
${Object.entries(ZONES)
  .map(([z, c]) => `  ${z}: { input: zones/${z}.zone, policy: ${c.policy} }\n`)
  .join('')}  ods.example: { input: zones/ods.example.zone, policy: rsa512 }
access:
  administrators: [user:${me}]
`,
  );
});

afterAll(() => {
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('hms key import: RSASHA512, ECDSAP384SHA384 and Ed448', () => {
  it('issue 18 DP-3.1a an algorithm hms does not sign with is refused by name, nothing written', () => {
    const sha1 = sh('dnssec-keygen', ['-q', '-a', 'RSASHA1', '-b', '1024', 'rsa.example']);
    const r = cli(['key', 'import', 'rsa.example', join(tmp, `${sha1}.key`), '--ticket', 'CHG-18']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /\.key:\d+: algorithm 5 \(RSASHA1\): RSASHA1 uses SHA-1 \(RFC 8624: must not sign\); hms imports RSASHA256, RSASHA512, ECDSAP256SHA256, ECDSAP384SHA384, ED25519, ED448/,
    );
    expect(JSON.parse(cli(['zone', 'list', '--json']).stdout)).toEqual({ zones: [] });
  });

  it('issue 18 DP-3.1a DP-3.1e keys of each from BIND, and an RSASHA512 pair from the token: the service signs each zone with the same DNSKEY set, valid', async () => {
    const expected = new Map<string, number[]>();
    for (const [zone, c] of Object.entries(ZONES)) {
      const ksk = sh('dnssec-keygen', ['-q', '-a', c.algorithm, ...c.ksk, '-f', 'KSK', zone]);
      const zsk = sh('dnssec-keygen', ['-q', '-a', c.algorithm, ...c.zsk, zone]);
      const r = cli(['key', 'import', zone, join(tmp, `${ksk}.key`), join(tmp, `${zsk}.key`), '--ds-seen', '--ticket', 'CHG-18', '--json']);
      expect(r.stderr, zone).toBe('');
      expect(r.status).toBe(0);
      const tags = [ksk, zsk].map((b) => Number(/\+(\d+)$/.exec(b)![1])).sort((a, b) => a - b);
      const imported = (JSON.parse(r.stdout) as { keys: { keyTag: number }[] }).keys.map((k) => k.keyTag).sort((a, b) => a - b);
      expect(imported, zone).toEqual(tags);
      expected.set(zone, tags);
    }
    // as OpenDNSSEC keeps them: RSA pairs in the token under its labels; the policy says RSASHA512
    const odsTags: number[] = [];
    for (const [role, bits, id] of [
      ['ksk', 2048, '0d5e01'],
      ['zsk', 1024, '0d5e02'],
    ] as const) {
      sh('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', `ods-${role}.pem`]);
      sh('softhsm2-util', ['--import', join(tmp, `ods-${role}.pem`), '--token', 'hms-ialg', '--label', `ods-${role}`, '--id', id, '--pin', token.pin]);
      const r = cli(['key', 'import', 'ods.example', '--label', `ods-${role}`, '--role', role, '--ds-seen', '--ticket', 'CHG-18', '--json']);
      expect(r.stderr).toBe('');
      const [k] = (JSON.parse(r.stdout) as { keys: { keyTag: number; algorithm: number }[] }).keys;
      expect(k!.algorithm).toBe(10);
      odsTags.push(k!.keyTag);
    }
    expected.set(
      'ods.example',
      odsTags.sort((a, b) => a - b),
    );

    lines.length = 0;
    const service = await Service.start({ configFile: config, log, operator, backoffMs: 3_600_000 });
    try {
      // each zone is looked at, and signed, once the service has started
      const signedAll = (): boolean =>
        [...expected.keys()].every((zone) => lines.some((l) => l.msg === 'zone signed and published' && l.zone === `${zone.replace(/\.$/, '')}.`));
      for (const until = Date.now() + 120_000; !signedAll() && Date.now() < until;) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(signedAll(), JSON.stringify(lines.filter((l) => l.msg !== 'audit'))).toBe(true);
      expect(
        lines.filter((l) => l.level !== undefined && (l.level as number) >= 50),
        JSON.stringify(lines.filter((l) => l.msg !== 'audit')),
      ).toEqual([]);
    } finally {
      await service.stop();
    }
    for (const [zone, tags] of expected) expect(signedTags(zone), zone).toEqual(tags);
    // dnssec-verify, ldns-verify-zone and kzonecheck: the signatures are of each key's algorithm
    expect(verifyServiceOutput(join(tmp, 'state'))).toEqual([]);
  }, 240_000);
});
