import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKnotSecondary, startNamedSecondary, highPort, type Daemon, startHmsRun } from './helpers/daemons.js';
import { throwawayToken } from './helpers/softhsm.js';
import { HMS, requireTool, ROOT, run, runAsync, verifyServiceOutput, verifySignedZone } from './helpers/run.js';

/**
 * The end-to-end test of issue 5: `hms run` on 127.0.0.1 with a SoftHSM token, a real BIND 9
 * and a real Knot DNS as its secondaries (TSIG hmac-sha256), delv validating their answers
 * from the exported DS. Loopback and high ports only; every server is stopped in afterAll.
 */
const SECRET = 'c2VydmljZS10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1v';
const WRONG = 'b3RoZXItc2VjcmV0LW9mLWFub3RoZXIta2V5LTMyLW9jdA==';
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
let input: string;
let env: NodeJS.ProcessEnv;
let hmsPort: number;
let namedPort: number;
let knotPort: number;
let service: Daemon;
let named: Daemon;
let knot: Daemon;
const daemons: Daemon[] = [];

const me = userInfo().username;
// asynchronous: a client blocking the test's event loop would stop it draining the service's log pipe
const hms = (args: readonly string[]) => runAsync('node', [HMS, ...args, '--config', config]);

function writeConfig(path: string, extra = ''): void {
  writeFileSync(
    path,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-svc, pin-file: pin }
access:
  administrators: [user:${me}]
service:
  listen: ["127.0.0.1:${hmsPort}"]
  data: state
  resign: "17 3 * * *"
  refusal-log-interval: 1s
  alarm-validity: 7d
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  bind: { address: 127.0.0.3, notify: "127.0.0.1:${namedPort}", key: xfr-key }
  knot: { address: 127.0.0.4, notify: "127.0.0.4:${knotPort}", key: xfr-key }
  test-client: { address: 127.0.0.1, notify: "127.0.0.1:9", key: xfr-key }
zones:
  example.com: { input: zones/example.com.zone, policy: dp }
${extra}`,
  );
}

/** dig against hms itself, TSIG-signed unless `key` says otherwise. */
async function digHms(args: readonly string[], key: string | null = `hmac-sha256:xfr-key:${SECRET}`): Promise<string> {
  const r = await runAsync('dig', ['@127.0.0.1', '-p', String(hmsPort), '+tries=1', '+time=3', ...(key === null ? [] : ['-y', key]), ...args], {
    timeoutMs: 20_000,
  });
  return r.stdout + r.stderr;
}

async function servedSerial(): Promise<number> {
  const out = await digHms(['+short', 'example.com', 'SOA']);
  return Number(out.trim().split('\n')[0]!.split(/\s+/)[2]);
}

beforeAll(async () => {
  for (const tool of ['dig', 'kdig', 'delv', 'named', 'knotd']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-service-'));
  token = throwawayToken('hms-svc');
  env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! };
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  input = join(tmp, 'zones/example.com.zone');
  copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), input);
  [hmsPort, namedPort, knotPort] = [highPort(), highPort(), highPort()];
  config = join(tmp, 'hms.yaml');
  writeConfig(config);
  service = await startHmsRun(config, /zone signed and published/, { env, registry: daemons, timeoutMs: 60_000 });
  // named's debug level 3 logs which kind of transfer it asks for and gets
  named = await startNamedSecondary(
    join(tmp, 'named'),
    { zone: 'example.com', port: namedPort, source: '127.0.0.3', primary: { address: '127.0.0.1', port: hmsPort }, secret: SECRET },
    { registry: daemons, debugLevel: 3 },
  );
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

// every signed version the service leaves behind passes dnssec-verify, ldns-verify-zone and kzonecheck
afterEach(() => {
  expect([...verifyServiceOutput(join(tmp, 'state'))]).toEqual([]);
});

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

const SECONDARIES = [
  { name: 'BIND', server: '127.0.0.1', port: () => namedPort },
  { name: 'Knot', server: '127.0.0.4', port: () => knotPort },
];

describe('hms run with BIND and Knot secondaries', () => {
  it('DP-3.5a DP-4.4a both secondaries transfer the zone; their copies pass dnssec-verify, ldns-verify-zone and kzonecheck', async () => {
    expect(named.output()).toMatch(/example\.com\/IN.*from 127\.0\.0\.1#\d+: Transfer status: success/);
    expect(named.output()).toMatch(/TSIG xfr-key/);
    // Knot signs its request with the remote's key and accepts only an answer signed with it
    expect(knot.output()).toMatch(/AXFR, incoming, remote 127\.0\.0\.1@\d+, finished/);
    for (const s of SECONDARIES) {
      // the secondaries give their copies to anyone on loopback: that is where the test reads them
      const r = await runAsync('dig', [`@${s.server}`, '-p', String(s.port()), '+tries=1', '+time=5', 'example.com', 'AXFR'], { timeoutMs: 20_000 });
      const records = r.stdout
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.startsWith(';') && !/\sTSIG\s/.test(l))
        .slice(0, -1);
      expect(records.length, `${s.name}: ${r.stdout}${r.stderr}`).toBeGreaterThan(40);
      const file = join(tmp, `${s.name}.axfr`);
      writeFileSync(file, records.join('\n') + '\n');
      expect(verifySignedZone('example.com', file).trim().split('\n'), s.name).toEqual(['PASS dnssec-verify', 'PASS ldns-verify-zone', 'PASS kzonecheck']);
    }
  });

  it("DP-4.7a delv, trusting only the DS of the zone's CDS, validates SOA, NS, DNSKEY, an NXDOMAIN and a NODATA from each secondary", async () => {
    // OPS-3 the new KSK's DS may not be submitted before its DNSKEY is known everywhere (the DP policy: hours)
    const ds = await hms(['ds', 'export', 'example.com', '--format', 'ds']);
    expect(ds.status, ds.stderr).toBe(0);
    expect(ds.stdout).toBe('');
    expect(ds.stderr).toMatch(/^example\.com\.: nothing to submit now: from \S+Z, submit DS \d+ /);
    // the DS the parent should hold, as the zone publishes it (RFC 7344)
    const cds = await runAsync(
      'dig',
      [`@${SECONDARIES[0]!.server}`, '-p', String(SECONDARIES[0]!.port()), '+tries=1', '+time=5', '+short', 'example.com', 'CDS'],
      { timeoutMs: 20_000 },
    );
    const [tag, alg, digestType, ...digest] = cds.stdout.trim().split('\n')[0]!.split(/\s+/);
    expect(ds.stderr).toContain(`submit DS ${tag} `);
    const anchors = join(tmp, 'anchors.conf');
    writeFileSync(anchors, `trust-anchors {\n  example.com. static-ds ${tag} ${alg} ${digestType} "${digest.join('')}";\n};\n`);
    const cases: [string, string, RegExp][] = [
      ['example.com', 'SOA', /; fully validated\s+example\.com\.\s+\d+\s+IN\s+SOA/],
      ['example.com', 'NS', /; fully validated\s+example\.com\.\s+\d+\s+IN\s+NS/],
      ['example.com', 'DNSKEY', /; fully validated\s+example\.com\.\s+\d+\s+IN\s+DNSKEY/],
      ['nothing-here.example.com', 'A', /; negative response, fully validated[\s\S]*NXDOMAIN|;; resolution failed: ncache nxdomain/],
      ['www.example.com', 'MX', /; negative response, fully validated|;; resolution failed: ncache nxrrset/],
    ];
    for (const s of SECONDARIES) {
      for (const [name, type, expected] of cases) {
        const r = await runAsync('delv', ['-a', anchors, '+root=example.com', `@${s.server}`, '-p', String(s.port()), name, type], { timeoutMs: 20_000 });
        const text = r.stdout + r.stderr;
        expect(text, `${s.name} ${name} ${type}`).toMatch(expected);
        expect(text, `${s.name} ${name} ${type}`).not.toMatch(/validation failed|insecurity proof failed|no valid signature/);
      }
    }
  });

  it('DP-3.2b DP-3.5a refuses a transfer without TSIG, with a wrong secret, with an unknown key, and from an address not listed', async () => {
    const from = service.output().length;
    expect(await digHms(['example.com', 'AXFR'], null)).toMatch(/Transfer failed/);
    expect(await digHms(['example.com', 'AXFR'], `hmac-sha256:xfr-key:${WRONG}`)).toMatch(/BADSIG[\s\S]*Transfer failed|Transfer failed[\s\S]*BADSIG/);
    expect(await digHms(['example.com', 'AXFR'], `hmac-sha256:nobody:${SECRET}`)).toMatch(/BADKEY/);
    expect(await digHms(['-b', '127.0.0.2', 'example.com', 'AXFR'])).toMatch(/Transfer failed/);
    // refusals are counted and summed up in a line per refusal-log-interval (1 s here), not logged one by one
    await service.waitFor(/"reasons":\{[^}]*"refused: address not listed":\d+[^}]*\}.*"msg":"transfer, refusals"/, 10_000, from);
  });

  it('DP-3.5c a configuration with hmac-md5 is refused at load, naming the file and the line', () => {
    const bad = join(tmp, 'md5.yaml');
    writeConfig(bad);
    writeFileSync(bad, readFileSync(bad, 'utf8').replace('xfr-key: { algorithm: hmac-sha256', 'xfr-key: { algorithm: hmac-md5'));
    const r = run('node', [HMS, 'run', '--config', bad]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(
        `${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: 1 problem\\(s\\) in the configuration\\n.*md5\\.yaml:13:\\d+: tsig-keys\\.xfr-key\\.algorithm: TSIG algorithm hmac-md5 is refused: no HMAC-MD5 \\(DP-3\\.5c`,
      ),
    );
    expect(r.stderr).not.toContain(SECRET);
  });

  it('DP-3.2 issue 5 item 4 a change to the input reaches both secondaries by NOTIFY and IXFR within seconds', async () => {
    const before = await servedSerial();
    const [namedFrom, knotFrom, serviceFrom] = [named.output().length, knot.output().length, service.output().length];
    const started = Date.now();
    writeFileSync(input, readFileSync(input, 'utf8') + 'news    TXT     "a change that travels by IXFR"\n');
    await service.waitFor(/zone signed and published/, 30_000, serviceFrom);
    const serial = await servedSerial();
    expect(serial).toBeGreaterThan(before);
    await named.waitFor(new RegExp(`zone example\\.com/IN: notify from 127\\.0\\.0\\.1#\\d+: serial ${serial}`), 20_000, namedFrom);
    await named.waitFor(new RegExp(`requesting IXFR for serial ${before}[\\s\\S]*got incremental response`), 20_000, namedFrom);
    await knot.waitFor(/IXFR, incoming, remote 127\.0\.0\.1@\d+.*finished/, 20_000, knotFrom);
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(20);
    expect(knot.output().slice(knotFrom)).toMatch(/notify, incoming, remote 127\.0\.0\.1@\d+.*serial \d+/i);
    for (const s of SECONDARIES) {
      const r = await runAsync('dig', [`@${s.server}`, '-p', String(s.port()), '+short', '+tries=2', '+time=3', 'news.example.com', 'TXT'], {
        timeoutMs: 20_000,
      });
      expect(r.stdout, s.name).toContain('"a change that travels by IXFR"');
    }
    await service.waitFor(/secondary serves the new version[\s\S]*secondary serves the new version/, 30_000, serviceFrom);
  });

  it('OPS-7 a bad input keeps the last signed version served and logs the reason with the file and line; the fixed input is signed', async () => {
    const before = await servedSerial();
    const from = service.output().length;
    const good = readFileSync(input, 'utf8');
    writeFileSync(input, good.replace('www     A       192.0.2.80', 'www     A       192.0.2.999'));
    await service.waitFor(/input refused; the last good signed version stays served/, 20_000, from);
    expect(service.output().slice(from)).toMatch(new RegExp(`${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2[0-9]:\\d+: `));
    expect(await servedSerial()).toBe(before);
    const again = service.output().length;
    writeFileSync(input, good.replace('www     A       192.0.2.80', 'www     A       192.0.2.81'));
    await service.waitFor(/zone signed and published/, 30_000, again);
    expect(await servedSerial()).toBeGreaterThan(before);
    const history = await hms(['zone', 'history', 'example.com']);
    expect(history.stdout.trim().split('\n')).toHaveLength(3);
    const diff = await hms(['zone', 'diff', 'example.com', '2', '3']);
    expect(diff.stdout).toMatch(/^-www\.example\.com\.\s+3600\s+IN\s+A\s+192\.0\.2\.80$/m);
    expect(diff.stdout).toMatch(/^\+www\.example\.com\.\s+3600\s+IN\s+A\s+192\.0\.2\.81$/m);
  });

  it('DP-2.6c hms zone restore makes an earlier revision the input again, audited with its ticket; the service signs it', async () => {
    const from = service.output().length;
    const r = await hms(['zone', 'restore', 'example.com', '2', '--ticket', 'CHG-0042', '--comment', 'back to the address before the typo']);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(input, 'utf8')).toMatch(/^www\.example\.com\.\s+3600\s+IN\s+A\s+192\.0\.2\.80$/m);
    await service.waitFor(/zone signed and published/, 30_000, from);
    expect(await digHms(['example.com', 'AXFR'])).toMatch(/^www\.example\.com\.\s+3600\s+IN\s+A\s+192\.0\.2\.80$/m);
    const audit = run('node', [HMS, 'audit', 'log', '--config', config, '--zone', 'example.com', '--json']);
    const records = JSON.parse(audit.stdout) as { action: string; actor: string; ticket: string | null; after: { revision?: number } }[];
    expect(records.find((a) => a.action === 'zone.restore')).toMatchObject({ actor: me, ticket: 'CHG-0042', after: { revision: 2 } });
    // the restored text is the same as revision 2: no new revision
    expect(
      (await hms(['zone', 'diff', 'example.com', '2', String((await hms(['zone', 'history', 'example.com'])).stdout.trim().split('\n').length)])).stdout,
    ).toBe('');
  });

  it('OPS-7 with the HSM gone the last version stays served and an alarm is raised; with it back, signing goes on', async () => {
    const before = await servedSerial();
    const tokens = join(token.dir, 'tokens');
    renameSync(tokens, `${tokens}.away`);
    mkdirSync(tokens);
    const from = service.output().length;
    const r = await hms(['zone', 'resign', 'example.com']);
    expect(r.status).not.toBe(0);
    await service.waitFor(/"alarm":true/, 20_000, from);
    // the token unreachable, not its keys missing: no emergency rollover advised
    expect(service.output().slice(from)).toMatch(/the token is unreachable: its keys cannot be listed/);
    expect(service.output().slice(from)).not.toMatch(/missing from token|emergency/);
    expect(await servedSerial()).toBe(before);
    rmSync(tokens, { recursive: true });
    renameSync(`${tokens}.away`, tokens);
    const ok = await hms(['zone', 'resign', 'example.com']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(await servedSerial()).toBeGreaterThan(before);
  });

  it('issue 5 item 1 hms reload refuses a bad configuration and keeps the running one; SIGHUP takes a new zone', async () => {
    writeFileSync(
      join(tmp, 'zones/example.org.zone'),
      readFileSync(join(ROOT, 'examples/zones/example.com.zone'), 'utf8').replaceAll('example.com', 'example.org'),
    );
    const good = readFileSync(config, 'utf8');
    writeFileSync(config, good.replace('resign: "17 3 * * *"', 'resign: "every day"'));
    const bad = await hms(['reload']);
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/hms\.yaml:\d+:\d+: service\.resign: 'every day' is not a cron expression/);
    // the CLI reads the configuration before it asks; SIGHUP makes the service read it itself
    const hup = service.output().length;
    service.child.kill('SIGHUP');
    await service.waitFor(/reload refused: the configuration has problems; the running one stays/, 20_000, hup);
    expect(await servedSerial()).toBeGreaterThan(0);
    const from = service.output().length;
    writeConfig(config, '  example.org: { input: zones/example.org.zone, policy: dp, secondaries: [test-client] }\n');
    service.child.kill('SIGHUP');
    await service.waitFor(
      /"changes":\["example\.org\.: added","transfer server[^"]*"\][\s\S]*"zone":"example\.org\.".*zone signed and published/,
      60_000,
      from,
    );
    expect(await digHms(['+short', 'example.org', 'SOA'])).toMatch(/ 2026112202 /);
    const status = await hms(['zone', 'status', '--json']);
    expect((JSON.parse(status.stdout) as { zone: string }[]).map((z) => z.zone)).toEqual(['example.com.', 'example.org.']);
  });

  it('OPS-7 a restart resumes: the same keys, the version on disk served at once, no lower serial', async () => {
    const keys = await hms(['key', 'list', 'example.com', '--json']);
    const before = await servedSerial();
    expect(await service.stop()).toBe(0);
    expect(service.output()).toMatch(/service stopped/);
    service = await startHmsRun(config, /zone resumed: the signed version on disk is current/, {
      env,
      registry: daemons,
      timeoutMs: 60_000,
    });
    expect(await servedSerial()).toBe(before);
    expect((await hms(['key', 'list', 'example.com', '--json'])).stdout).toBe(keys.stdout);
    const r = await hms(['zone', 'resign', 'example.com']);
    expect(r.status, r.stderr).toBe(0);
    const after = await servedSerial();
    expect(after).toBeGreaterThan(before);
    expect((await hms(['key', 'list', 'example.com', '--json'])).stdout).toBe(keys.stdout);
    // an input changed while the service was down is signed at start
    expect(await service.stop()).toBe(0);
    writeFileSync(input, readFileSync(input, 'utf8') + 'while-down TXT "changed while hms was stopped"\n');
    service = await startHmsRun(config, /"reasons":\["the input changed since the last run"\].*zone signed and published/, {
      env,
      registry: daemons,
      timeoutMs: 60_000,
    });
    expect(await servedSerial()).toBeGreaterThan(after);
  });
});
