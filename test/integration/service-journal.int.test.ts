import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterServiceTests, highPort, startKnotSecondary, type Daemon, startHmsRun } from './helpers/daemons.js';
import { serviceFolder } from './helpers/service.js';
import { HMS, requireTool, ROOT, runAsync, verifySignedZone } from './helpers/run.js';

/**
 * Issue 17 item 5: the IXFR journal of `hms run` lives on disk. A real Knot DNS secondary
 * takes every re-sign by IXFR, before and after a restart of hms; the restart reads the
 * journal's index and serves IXFR from every version it keeps; a journal of the earlier
 * whole-file format is discarded at start with a log line (IXFR falls back to the whole
 * zone) and the next version starts a new one. Loopback and high ports; every server is
 * stopped after the tests.
 */
const SECRET = 'am91cm5hbC10ZXN0LXNlY3JldC1vZi0zMi1vY3RldHMh';
const DIG_KEY = `hmac-sha256:xfr-key:${SECRET}`;
let tmp: string;
let token: { dispose(): void } | undefined;
let config: string;
let env: NodeJS.ProcessEnv;
let hmsPort: number;
let knotPort: number;
let service: Daemon;
let knot: Daemon;
const daemons: Daemon[] = [];
const serials: number[] = [];

const hms = (args: readonly string[]) => runAsync('node', [HMS, ...args, '--config', config], { timeoutMs: 60_000 });
const start = (ready: RegExp): Promise<Daemon> => startHmsRun(config, ready, { env, registry: daemons, timeoutMs: 60_000 });

async function dig(args: readonly string[]): Promise<string> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+tries=1', '+time=5', '-y', DIG_KEY, ...args], { timeoutMs: 30_000 });
  return r.stdout + r.stderr;
}

async function servedSerial(): Promise<number> {
  return Number((await dig(['+short', 'example.com', 'SOA'])).trim().split('\n')[0]!.split(/\s+/)[2]);
}

/** The SOA serials of a transfer's answer, in order (an IXFR: the new one, then old and new per version, then the new one). */
async function transferSerials(from: number): Promise<number[]> {
  const out = await dig(['example.com', `IXFR=${from}`]);
  expect(out).not.toMatch(/Transfer failed|Couldn't verify/);
  return out
    .split('\n')
    .filter((l) => /^example\.com\.\s+\d+\s+IN\s+SOA\s/.test(l))
    .map((l) => Number(l.split(/\s+/)[6]));
}

/** `hms zone resign`, then Knot's IXFR of the new serial (never a fallback to AXFR). */
async function resignTakenByIxfr(): Promise<number> {
  const [knotFrom, serviceFrom] = [knot.output().length, service.output().length];
  const r = await hms(['zone', 'resign', 'example.com']);
  expect(r.status, r.stderr).toBe(0);
  const serial = await servedSerial();
  expect(serial).toBeGreaterThan(serials.at(-1)!);
  serials.push(serial);
  await knot.waitFor(/IXFR, incoming, remote 127\.0\.0\.1@\d+.*finished/, 30_000, knotFrom);
  await service.waitFor(/secondary serves the new version/, 30_000, serviceFrom);
  expect(knot.output().slice(knotFrom)).not.toMatch(/fallback to AXFR/);
  return serial;
}

/** Knot's copy, by AXFR from Knot, passes the three validators. */
async function verifyKnotCopy(): Promise<void> {
  const r = await runAsync('dig', ['@127.0.0.4', '-p', String(knotPort), '+tries=1', '+time=5', 'example.com', 'AXFR'], { timeoutMs: 30_000 });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith(';'))
    .slice(0, -1);
  expect(lines.some((l) => new RegExp(`\\sSOA\\s.*\\s${serials.at(-1)}\\s`).test(l))).toBe(true);
  const file = join(tmp, 'knot-copy.zone');
  writeFileSync(file, lines.join('\n') + '\n');
  expect(verifySignedZone('example.com', file).trim().split('\n')).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
}

beforeAll(async () => {
  for (const tool of ['dig', 'knotd']) requireTool(tool);
  ({ tmp, token } = serviceFolder('hms-journal-', 'hms-journal'));
  env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! };
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  [hmsPort, knotPort] = [highPort(), highPort()];
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-journal, pin-file: pin }
access:
  administrators: [user:${process.env.USER ?? 'root'}]
service:
  listen: ["127.0.0.1:${hmsPort}"]
  data: state
  journal-versions: 3
  journal-size: 64M
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  knot: { address: 127.0.0.4, notify: "127.0.0.4:${knotPort}", key: xfr-key }
  test-client: { address: 127.0.0.1, notify: "127.0.0.1:9", key: xfr-key }
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
`,
  );
  mkdirSync(join(tmp, 'state'), { recursive: true, mode: 0o700 });
  service = await start(/zone signed and published/);
  serials.push(await servedSerial());
  knot = await startKnotSecondary(
    join(tmp, 'knot'),
    {
      zone: 'example.com',
      address: '127.0.0.4',
      port: knotPort,
      primary: { address: '127.0.0.1', port: hmsPort },
      secret: SECRET,
    },
    { registry: daemons },
  );
}, 120_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe('the IXFR journal of hms run, on disk', () => {
  it('issue 17 item 5: Knot takes each of four re-signs by IXFR; the journal file is appended and keeps journal-versions diffs', async () => {
    for (let i = 0; i < 4; i++) await resignTakenByIxfr();
    const file = readFileSync(join(tmp, 'state/journal/example.com.journal'));
    expect(file.subarray(0, 8).toString('latin1')).toBe('HMSJRNL2');
    // three diffs kept: from the oldest serial kept, three versions come; from before it, the whole zone
    expect(await transferSerials(serials[1]!)).toEqual([serials[4], serials[1], serials[2], serials[2], serials[3], serials[3], serials[4], serials[4]]);
    expect(await transferSerials(serials[0]!)).toEqual([serials[4], serials[4]]);
    await verifyKnotCopy();
  });

  it('issue 17 item 5: after a restart of hms the journal is opened from its index, IXFR is served from every kept version, and Knot takes the next re-sign by IXFR', async () => {
    expect(await service.stop()).toBe(0);
    service = await start(/zone resumed: the signed version on disk is current/);
    expect(service.output()).toMatch(/"versions":3,.*"msg":"journal, opened"/);
    expect(await servedSerial()).toBe(serials.at(-1));
    expect(await transferSerials(serials[2]!)).toEqual([serials[4], serials[2], serials[3], serials[3], serials[4], serials[4]]);
    await resignTakenByIxfr();
    await verifyKnotCopy();
  });

  it('issue 17 item 5: a journal of the earlier whole-file format is discarded at start with a log line; IXFR falls back to the whole zone, and the next version starts a new journal', async () => {
    expect(await service.stop()).toBe(0);
    writeFileSync(join(tmp, 'state/journal/example.com.journal'), Buffer.concat([Buffer.from('HMSJRNL1', 'latin1'), Buffer.alloc(64, 1)]));
    service = await start(/zone resumed: the signed version on disk is current/);
    expect(service.output()).toMatch(/"level":40,.*"msg":"journal, earlier format discarded"/);
    expect(await transferSerials(serials[4]!)).toEqual([serials[5], serials[5]]);
    await resignTakenByIxfr();
    expect(readFileSync(join(tmp, 'state/journal/example.com.journal')).subarray(0, 8).toString('latin1')).toBe('HMSJRNL2');
    await verifyKnotCopy();
  });
});
