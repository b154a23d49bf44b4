import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { hmsConfig } from '../../scripts/lab/configs.js';
import { afterServiceTests, highPort, startHmsRun, type Daemon } from './helpers/daemons.js';
import { HMS, requireTool, runAsync } from './helpers/run.js';
import { serviceFolder } from './helpers/service.js';

/**
 * Issue 20 item 5: `signatures.refresh` and `signatures.jitter` do what kasp/README.md says,
 * through `hms run`. With a policy whose validity and SOA EXPIRE allow it, a re-sign keeps
 * the signatures that have more than `refresh` left over what did not change, and an IXFR
 * carries only what was re-made; the expirations are spread by `jitter`. The signed versions
 * pass dnssec-verify, ldns-verify-zone and kzonecheck (afterServiceTests).
 */
const SECRET = 'cmVmcmVzaC10ZXN0LXNlY3JldC1vZi0zMi1vY3RldHMh';
const DIG_KEY = `hmac-sha256:xfr-key:${SECRET}`;
let tmp: string;
let token: { dispose(): void } | undefined;
let config: string;
let port: number;
let service: Daemon;
const daemons: Daemon[] = [];

async function dig(args: readonly string[]): Promise<string> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=5', '-y', DIG_KEY, ...args], { timeoutMs: 30_000 });
  return r.stdout + r.stderr;
}

async function servedSerial(): Promise<number> {
  return Number((await dig(['+short', 'example.com', 'SOA'])).trim().split('\n')[0]!.split(/\s+/)[2]);
}

/** The RRSIG lines of an AXFR: owner, type covered and expiration. */
async function rrsigs(): Promise<{ owner: string; covered: string; expiration: string; line: string }[]> {
  const out = await dig(['example.com', 'AXFR']);
  return out
    .split('\n')
    .map((l) => l.split(/\s+/))
    .filter((f) => f[3] === 'RRSIG')
    .map((f) => {
      return { owner: f[0]!, covered: f[4]!, expiration: f[8]!, line: f.slice(4).join(' ') };
    });
}

beforeAll(async () => {
  requireTool('dig');
  ({ tmp, token } = serviceFolder('hms-refresh-', 'hms-refresh'));
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  // held to RFC 9276 only: with SOA EXPIRE 14 days, signatures that keep 20 days are enough
  writeFileSync(
    join(tmp, 'policy.yaml'),
    `profile: rfc9276
policies:
  thrifty:
    description: refresh 20 days, jitter 12 hours, SOA EXPIRE 14 days
    signatures: { refresh: 20d, jitter: 12h }
    soa: { expire: 14d }
    denial: { type: nsec3, iterations: 0, salt-length: 0, resalt: never }
`,
  );
  port = highPort();
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    hmsConfig({
      token: 'hms-refresh',
      listen: `127.0.0.1:${port}`,
      policies: ['policy.yaml'],
      example: { zone: 'example.com', input: 'zones/example.com.zone', policy: 'thrifty' },
    }),
  );
  service = await startHmsRun(config, /zone signed and published/, { registry: daemons });
}, 120_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe('signatures.refresh and signatures.jitter in hms run (issue 20 item 5)', () => {
  it('DP-4.4a a re-sign keeps the signatures with more than refresh left; the IXFR carries only the SOA and its new signature; expirations spread by jitter', async () => {
    const first = await servedSerial();
    const before = await rrsigs();
    expect(before.length).toBeGreaterThan(10);
    // jitter: the expirations differ between RRsets
    expect(new Set(before.map((s) => s.expiration)).size).toBeGreaterThan(1);

    const from = service.output().length;
    const r = await runAsync('node', [HMS, 'zone', 'resign', 'example.com', '--config', config], { timeoutMs: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    await service.waitFor(/zone signed and published/, 30_000, from);
    const line = service
      .output()
      .slice(from)
      .split('\n')
      .find((l) => l.includes('zone signed and published'))!;
    const logged = JSON.parse(line) as { signatures: number; kept: number; serial: number };
    // the SOA changed (the serial): its one ZSK signature is made; every other one is kept
    expect(await servedSerial()).toBe(logged.serial);
    const after = await rrsigs();
    const old = new Set(before.map((s) => s.line));
    expect(after.filter((s) => !old.has(s.line)).map((s) => `${s.owner} ${s.covered}`)).toEqual(['example.com. SOA']);
    expect(logged.signatures).toBe(1);
    expect(logged.kept).toBe(after.length - 1);

    // the IXFR from the first version: the old SOA and its RRSIG out, the new ones in, nothing else
    const ixfr = (await dig(['example.com', `IXFR=${first}`])).split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';'));
    expect(
      ixfr.filter((l) => !/\s(SOA|TSIG)\s/.test(l) && !/\sRRSIG\s+SOA\s/.test(l)),
      ixfr.join('\n'),
    ).toEqual([]);
    expect(ixfr.filter((l) => /\sRRSIG\s+SOA\s/.test(l))).toHaveLength(2);
  });
});
