import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { highPort, namedPrimaryConf, startDaemon, type Daemon, startHmsRun, NAMED_RUNNING } from './helpers/daemons.js';
import { hmsConfig } from '../../scripts/lab/configs.js';
import { throwawayToken } from './helpers/softhsm.js';
import { HMS, requireTool, ROOT, run, runAsync, verifyServiceOutput, verifySignedZone } from './helpers/run.js';

/**
 * `hms run` with its zone from an upstream primary (issue 5 item 2): a real BIND 9 primary
 * serves the unsigned zone with TSIG; a dynamic update there reaches hms by NOTIFY and IXFR,
 * and is signed and served. Loopback and high ports only.
 */
const UP_SECRET = 'dXBzdHJlYW0tcHJpbWFyeS1zZWNyZXQtMzItb2N0ZXRzIQ==';
const XFR_SECRET = 'c2VydmljZS10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1v';
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
let hmsPort: number;
let primaryPort: number;
let service: Daemon;
let named: Daemon;
const daemons: Daemon[] = [];

async function servedSerial(): Promise<number> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+short', '+tries=1', '+time=3', '-k', join(tmp, 'xfr.conf'), 'example.com', 'SOA'], {
    timeoutMs: 20_000,
  });
  return Number(r.stdout.trim().split(/\s+/)[2]);
}

beforeAll(async () => {
  for (const tool of ['dig', 'named', 'nsupdate']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-upstream-'));
  token = throwawayToken('hms-up');
  [hmsPort, primaryPort] = [highPort(), highPort()];
  const conf = namedPrimaryConf(join(tmp, 'named'), {
    zone: 'example.com',
    port: primaryPort,
    zoneFile: join(ROOT, 'examples/zones/example.com.zone'),
    secret: UP_SECRET,
    notify: { address: '127.0.0.1', port: hmsPort },
  });
  named = await startDaemon('named', ['-g', '-c', conf], NAMED_RUNNING, { registry: daemons });
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'up.secret'), `${UP_SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.secret'), `${XFR_SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.conf'), `key "xfr-key" { algorithm hmac-sha256; secret "${XFR_SECRET}"; };\n`, { mode: 0o600 });
  writeFileSync(join(tmp, 'up.conf'), `key "up-key" { algorithm hmac-sha256; secret "${UP_SECRET}"; };\n`, { mode: 0o600 });
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    hmsConfig({
      token: 'hms-up',
      listen: `127.0.0.1:${hmsPort}`,
      tsigKeys: { 'xfr-key': 'xfr.secret', 'up-key': 'up.secret' },
      example: false,
      zones: `  example.com:
    primary: { address: 127.0.0.1, port: ${primaryPort}, key: up-key }
    policy: dp
`,
    }),
  );
  service = await startHmsRun(config, /zone signed and published/, {
    env: { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! },
    registry: daemons,
    timeoutMs: 60_000,
  });
}, 120_000);

// every signed version the service leaves behind passes dnssec-verify, ldns-verify-zone and kzonecheck
afterEach(() => {
  expect([...verifyServiceOutput(join(tmp, 'state'))]).toEqual([]);
});

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('hms run with its zone from an upstream primary', () => {
  it('issue 5 item 2 DP-3.5a takes the zone by AXFR with TSIG, signs it, keeps it as a revision, and serves it', async () => {
    expect(service.output()).toMatch(/"method":"AXFR".*new version from the primary/);
    expect(await servedSerial()).toBe(2026112202);
    const history = run('node', [HMS, 'zone', 'history', 'example.com', '--config', config]);
    expect(history.stdout).toMatch(/^1\t.*serial 2026112201\t19 records\t.*\tprimary 127\.0\.0\.1/m);
    const r = await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+tries=1', '+time=5', '-k', join(tmp, 'xfr.conf'), 'example.com', 'AXFR'], {
      timeoutMs: 20_000,
    });
    const file = join(tmp, 'signed.axfr');
    writeFileSync(
      file,
      r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith(';') && !/\sTSIG\s/.test(l))
        .slice(0, -1)
        .join('\n') + '\n',
    );
    expect(verifySignedZone('example.com', file).trim().split('\n')).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
  });

  it('issue 5 item 2 a change on the primary comes in by its NOTIFY and an IXFR, and is signed within seconds', async () => {
    const from = service.output().length;
    const update = join(tmp, 'update.txt');
    writeFileSync(update, [`server 127.0.0.1 ${primaryPort}`, 'zone example.com', 'update add fresh.example.com. 300 IN A 192.0.2.77', 'send', ''].join('\n'));
    const r = await runAsync('nsupdate', ['-k', join(tmp, 'up.conf'), update], { timeoutMs: 20_000 });
    expect(r.stderr).toBe('');
    await named.waitFor(/zone example\.com\/IN: sending notifies \(serial 2026112202\)/, 10_000);
    await service.waitFor(/NOTIFY from the primary[\s\S]*zone signed and published/, 30_000, from);
    expect(service.output().slice(from)).toMatch(/"method":"IXFR".*new version from the primary/);
    expect(await servedSerial()).toBe(2026112203);
    const a = await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+tries=1', '+time=5', '-k', join(tmp, 'xfr.conf'), 'example.com', 'AXFR'], {
      timeoutMs: 20_000,
    });
    expect(a.stdout).toMatch(/^fresh\.example\.com\.\s+300\s+IN\s+A\s+192\.0\.2\.77$/m);
    expect(a.stdout).toMatch(/^fresh\.example\.com\.\s+300\s+IN\s+RRSIG\s+A 8 3 300 /m);
  });

  it('DP-3.2b the primary may notify, but gets no transfer of the signed zone', async () => {
    const r = await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+tries=1', '+time=5', '-k', join(tmp, 'up.conf'), 'example.com', 'AXFR'], {
      timeoutMs: 20_000,
    });
    expect(r.stdout + r.stderr).toMatch(/Transfer failed/);
    // the first refusal after a quiet spell is summed up at once (later ones once per refusal-log-interval)
    await service.waitFor(/"reasons":\{"refused: a primary may only send NOTIFY":1\}.*"msg":"transfer, refusals"/, 10_000);
  });
});
