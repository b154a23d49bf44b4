import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  afterServiceTests,
  highPort,
  knotSecondaryConf,
  namedSecondaryConf,
  startDaemon,
  writeNamedConf,
  type Daemon,
  NAMED_RUNNING,
} from './helpers/daemons.js';
import { HMS, requireTool, ROOT, runAsync } from './helpers/run.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * The monitor of issue 19 item 1 against real secondaries: `hms run` on 127.0.0.1 with a BIND 9
 * secondary on 127.0.0.1 (another port) and a Knot DNS secondary on 127.0.0.4 (both on one port, which is also
 * the port the zone's NS set is asked at: ns1 and ns2 are their glue). `hms monitor` is run as
 * a Nagios plugin would be; the service's own monitor (every second) raises and clears alarms in
 * its log. Each fault is made with the real servers: one stopped, one serving an old serial, one
 * serving a tampered copy, one with its clock two hours ahead under faketime. Every wait is
 * bounded and every server is stopped in afterAll.
 */
const SECRET = 'bW9uaXRvci10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1vY3Q=';
let tmp: string;
let token: ReturnType<typeof throwawayToken>;
let config: string;
let hmsPort: number;
let port: number;
let service: Daemon;
let named: Daemon;
let knot: Daemon;
const daemons: Daemon[] = [];

const monitor = (args: readonly string[] = []) => runAsync('node', [HMS, 'monitor', ...args, '--config', config], { timeoutMs: 60_000 });

function zoneText(): string {
  return `$TTL 1h
$ORIGIN example.com.
@ IN SOA ns1.example.com. hostmaster.example.com. ( 2026120601 2h 15m 30d 5m )
  NS ns1
  NS ns2
ns1 A 127.0.0.1
ns2 A 127.0.0.4
www A 192.0.2.80
`;
}

/** A BIND 9 secondary on 127.0.0.1 (transfers from hms with TSIG, from 127.0.0.3), or with `primaryFile` a primary serving that file. */
function namedConf(dir: string, primaryFile?: string): string {
  if (primaryFile === undefined)
    return namedSecondaryConf(dir, {
      zone: 'example.com',
      port,
      source: '127.0.0.3',
      primary: { address: '127.0.0.1', port: hmsPort },
      secret: SECRET,
      allowNotify: false,
    });
  return writeNamedConf(
    dir,
    port,
    `  query-source address 127.0.0.3;
  recursion no;
  notify no;
  allow-transfer { any; };
};
controls { };
key "xfr-key" { algorithm hmac-sha256; secret "${SECRET}"; };
zone "example.com" {
  type primary;
  file "${primaryFile}";
};
`,
  );
}

/** named, once it answers over TCP too (its TCP listener may open after it says it runs). */
async function startNamed(o: { primaryFile?: string; dir?: string } = {}): Promise<Daemon> {
  const d = await startDaemon('named', ['-g', '-c', namedConf(join(tmp, o.dir ?? 'named'), o.primaryFile)], NAMED_RUNNING, { registry: daemons });
  await until('named answers over TCP', async () => /Got answer/.test(await dig('127.0.0.1', ['+tcp', 'example.com', 'SOA'])), 10_000);
  return d;
}

/** libfaketime, as the `faketime` command preloads it. */
const LIBFAKETIME = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
  '/usr/local/lib/faketime/libfaketime.so.1',
].find((f) => existsSync(f));

/**
 * Knot, transferring from hms (or from `primaryPort`, where nothing answers); with `faketime`
 * its clock is moved as `faketime -f` moves it, libfaketime preloaded into knotd itself (the
 * `faketime` command forks, and a signal to it would not reach knotd; named does not run under
 * libfaketime at all: its allocator clashes with it).
 */
async function startKnot(o: { primaryPort?: number; faketime?: string } = {}): Promise<Daemon> {
  const conf = knotSecondaryConf(join(tmp, 'knot'), {
    zone: 'example.com',
    address: '127.0.0.4',
    port,
    primary: { address: '127.0.0.1', port: o.primaryPort ?? hmsPort },
    secret: SECRET,
  });
  const env = o.faketime === undefined ? process.env : { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: o.faketime };
  return startDaemon('knotd', ['-c', conf], /server started/, { registry: daemons, env });
}

async function dig(address: string, args: readonly string[]): Promise<string> {
  const r = await runAsync('dig', [`@${address}`, '-p', String(port), '+tries=1', '+time=2', ...args], { timeoutMs: 10_000 });
  return r.stdout + r.stderr;
}

async function serialAt(address: string): Promise<number> {
  return Number((await dig(address, ['+short', 'example.com', 'SOA'])).trim().split('\n')[0]!.split(/\s+/)[2]);
}

/** Waits (bounded) until `check` holds. */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}

/** The published serial, as hms serves it. */
async function published(): Promise<number> {
  const r = await runAsync(
    'dig',
    ['@127.0.0.1', '-b', '127.0.0.3', '-p', String(hmsPort), '+tries=1', '+time=2', '-y', `hmac-sha256:xfr-key:${SECRET}`, '+short', 'example.com', 'SOA'],
    {
      timeoutMs: 10_000,
    },
  );
  return Number(r.stdout.trim().split('\n')[0]!.split(/\s+/)[2]);
}

/** The service's log from `from` on: an alarm of `check` about the server named `server` raised, then (with `cleared`) cleared. */
function alarmPattern(state: 'raised' | 'cleared', check: string, server: string): RegExp {
  return new RegExp(`"alarmKey":"monitor\\.${check}/example\\.com\\./${server}[^"]*"[^\\n]*"msg":"ALARM ${state}: `);
}

beforeAll(async () => {
  for (const tool of ['dig', 'named', 'knotd', 'knotc', 'faketime']) requireTool(tool);
  expect(LIBFAKETIME, 'libfaketime (the faketime package)').toBeDefined();
  tmp = mkdtempSync(join(tmpdir(), 'hms-monitor-'));
  token = throwawayToken('hms-mon');
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
  mkdirSync(join(tmp, 'zones'));
  writeFileSync(join(tmp, 'zones/example.com.zone'), zoneText());
  [hmsPort, port] = [highPort(), highPort()];
  config = join(tmp, 'hms.yaml');
  writeFileSync(
    config,
    `state: state/hms.db
policies: [${join(ROOT, 'kasp/default.yaml')}]
hsm: { token: hms-mon, pin-file: pin }
access:
  administrators: [user:${userInfo().username}]
service:
  listen: ["127.0.0.1:${hmsPort}"]
  data: state
  monitor-interval: 1s
  monitor-timeout: 1s
  monitor-ns-port: ${port}
  monitor-serial-lag-warning: 3s
  monitor-serial-lag-critical: 1h
tsig-keys:
  xfr-key: { algorithm: hmac-sha256, secret-file: xfr.secret }
secondaries:
  bind: { address: 127.0.0.3, notify: "127.0.0.1:${port}", key: xfr-key }
  knot: { address: 127.0.0.4, notify: "127.0.0.4:${port}", key: xfr-key }
  test-client: { address: 127.0.0.1, notify: "127.0.0.1:9", key: xfr-key }
zones:
  example.com: { input: zones/example.com.zone, policy: dp, secondaries: [bind, knot] }
`,
  );
  const env = { ...process.env, SOFTHSM2_CONF: process.env.SOFTHSM2_CONF! };
  service = await startDaemon('node', [HMS, 'run', '--config', config], /zone signed and published/, { env, registry: daemons, timeoutMs: 60_000 });
  named = await startNamed();
  knot = await startKnot();
  const serial = await published();
  try {
    await until(
      'both secondaries serve the published serial',
      async () => (await serialAt('127.0.0.1')) === serial && (await serialAt('127.0.0.4')) === serial,
    );
  } catch (e) {
    const tail = (d: Daemon): string => d.output().slice(-3000);
    throw new Error(
      `${String(e)} (${serial}): BIND ${await dig('127.0.0.1', ['example.com', 'SOA'])}\n${tail(named)}\nKnot ${await dig('127.0.0.4', ['example.com', 'SOA'])}\n${tail(knot)}\nhms ${tail(service)}`,
    );
  }
}, 120_000);

afterServiceTests(daemons, () => ({ tmp, token }));

describe('hms monitor and the monitor of hms run, with a BIND and a Knot secondary', () => {
  it('DP-2.9a DP-2.9b DP-2.9c DP-2.9d DP-2.9e every check of both secondaries (also the NS set) is OK: exit 0, perfdata, --json', async () => {
    const r = await monitor();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const [first, ...rest] = r.stdout.trim().split('\n');
    expect(first).toMatch(
      /^HMS MONITOR OK - 2 server\(s\) of 1 zone\(s\) OK \| serial_lag=0s;3;3600 rrsig_min_validity=\d+s;604800:;172800: clock_skew=-?[01]s;-30:30;-300:300$/,
    );
    for (const server of [`bind/ns1.example.com. 127.0.0.1@${port}`, `knot/ns2.example.com. 127.0.0.4@${port}`])
      for (const check of ['answer', 'serial', 'positive', 'negative', 'rrsig-validity', 'clock'])
        expect(
          rest.some((l) => l.startsWith(`OK example.com. ${server} ${check}: `)),
          `${server} ${check}\n${r.stdout}`,
        ).toBe(true);
    expect(r.stdout).toMatch(/bind\S* 127\.0\.0\.1@\d+ rrsig-validity: the first RRSIG in its AXFR \(\d+ records\) expires in (31|32) d/);
    const json = await monitor(['example.com', '--json']);
    expect(json.status).toBe(0);
    const body = JSON.parse(json.stdout) as { status: string; exit: number; findings: { status: string }[] };
    expect(body).toMatchObject({ status: 'OK', exit: 0 });
    expect(body.findings.length).toBe(12);
    await service.waitFor(/"status":"OK"[^\n]*"msg":"monitor, run done"/, 10_000);
  });

  it('DP-2.9d a secondary that is stopped is CRITICAL naming it; the alarm is raised in the log, and cleared when it is back', async () => {
    const from = service.output().length;
    await named.stop();
    const r = await monitor();
    expect(r.status, r.stdout).toBe(2);
    expect(r.stdout.split('\n')[0]).toMatch(
      new RegExp(
        `^HMS MONITOR CRITICAL - example\\.com\\. bind/ns1\\.example\\.com\\. 127\\.0\\.0\\.1@${port} answer: no usable answer: 127\\.0\\.0\\.1:${port}: no answer over UDP within 1000 ms`,
      ),
    );
    await service.waitFor(alarmPattern('raised', 'answer', 'bind'), 15_000, from);
    named = await startNamed();
    await service.waitFor(alarmPattern('cleared', 'answer', 'bind'), 15_000, from);
    expect((await monitor()).status).toBe(0);
  });

  it('DP-2.9d a secondary serving an old serial is a WARNING with the lag; the alarm is cleared once it serves the new one', async () => {
    // Knot now transfers from a port where nothing answers: it keeps serving what it has
    await knot.stop();
    knot = await startKnot({ primaryPort: 9 });
    const old = await serialAt('127.0.0.4');
    const from = service.output().length;
    const resign = await runAsync('node', [HMS, 'zone', 'resign', 'example.com', '--config', config], { timeoutMs: 60_000 });
    expect(resign.status, resign.stderr).toBe(0);
    const serial = await published();
    expect(serial).not.toBe(old);
    await until('BIND serves the new serial', async () => (await serialAt('127.0.0.1')) === serial);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const r = await monitor();
    expect(r.status, r.stdout).toBe(1);
    expect(r.stdout.split('\n')[0]).toMatch(
      new RegExp(
        `^HMS MONITOR WARNING - example\\.com\\. knot/ns2\\.example\\.com\\. 127\\.0\\.0\\.4@${port} serial: serves serial ${old}, not the ${serial} published \\d+ s ago \\(lag \\d+ s\\) \\| serial_lag=\\d+s;3;3600 `,
      ),
    );
    expect(Number(/serial_lag=(\d+)s/.exec(r.stdout)![1])).toBeGreaterThanOrEqual(4);
    await service.waitFor(alarmPattern('raised', 'serial', 'knot'), 15_000, from);
    await knot.stop();
    knot = await startKnot();
    // its refresh timer, kept over the restart, is the retry's: ask it now
    const refresh = await runAsync('knotc', ['-c', join(tmp, 'knot/knot.conf'), 'zone-refresh', 'example.com'], { timeoutMs: 10_000 });
    expect(refresh.status, refresh.stdout + refresh.stderr).toBe(0);
    await until('Knot serves the new serial', async () => (await serialAt('127.0.0.4')) === serial);
    await service.waitFor(alarmPattern('cleared', 'serial', 'knot'), 15_000, from);
    expect((await monitor()).status).toBe(0);
  });

  it("DP-2.9b a server on the secondary's address serving a tampered copy is CRITICAL, bogus; cleared when the secondary is back", async () => {
    const axfr = await runAsync(
      'dig',
      ['@127.0.0.1', '-b', '127.0.0.3', '-p', String(hmsPort), '-y', `hmac-sha256:xfr-key:${SECRET}`, '+tries=1', '+time=5', 'example.com', 'AXFR'],
      {
        timeoutMs: 20_000,
      },
    );
    let tampered = 0;
    const lines = axfr.stdout
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith(';') && !/\sTSIG\s/.test(l))
      .map((l) => {
        const t = l.split(/\s+/);
        // the signature over the SOA: one character of it changed
        if (t[3] === 'RRSIG' && t[4] === 'SOA') {
          tampered++;
          t[12] = (t[12]![0] === 'A' ? 'B' : 'A') + t[12]!.slice(1);
        }
        return t.join(' ');
      });
    expect(tampered).toBeGreaterThan(0);
    const file = join(tmp, 'tampered.zone');
    writeFileSync(file, `${lines.slice(0, -1).join('\n')}\n`);
    const from = service.output().length;
    await named.stop();
    named = await startNamed({ primaryFile: file, dir: 'named-tampered' });
    const r = await monitor();
    expect(r.status, r.stdout).toBe(2);
    expect(r.stdout.split('\n')[0]).toMatch(
      new RegExp(
        `^HMS MONITOR CRITICAL - example\\.com\\. bind/ns1\\.example\\.com\\. 127\\.0\\.0\\.1@${port} positive: bogus: example\\.com\\./SOA: RRSIG \\d+ does not verify`,
      ),
    );
    await service.waitFor(alarmPattern('raised', 'positive', 'bind'), 15_000, from);
    await named.stop();
    named = await startNamed();
    await service.waitFor(alarmPattern('cleared', 'positive', 'bind'), 15_000, from);
    expect((await monitor()).status).toBe(0);
  });

  it('DP-2.9e a secondary whose clock is two hours ahead (Knot under faketime) is CRITICAL with the skew from its TSIG answer; cleared when its clock is right', async () => {
    const from = service.output().length;
    await knot.stop();
    knot = await startKnot({ faketime: '+2h' });
    const r = await monitor();
    expect(r.status, r.stdout).toBe(2);
    expect(r.stdout).toMatch(
      new RegExp(
        `CRITICAL example\\.com\\. knot/ns2\\.example\\.com\\. 127\\.0\\.0\\.4@${port} clock: its clock is 2 h 0 min ahead of ours \\(skew 7\\d{3} s, from its TSIG`,
      ),
    );
    const skew = Number(/clock_skew=(-?\d+)s/.exec(r.stdout)![1]);
    expect(Math.abs(skew - 7200)).toBeLessThanOrEqual(5);
    await service.waitFor(alarmPattern('raised', 'clock', 'knot'), 15_000, from);
    await knot.stop();
    knot = await startKnot();
    await service.waitFor(alarmPattern('cleared', 'clock', 'knot'), 15_000, from);
    expect((await monitor()).status).toBe(0);
  });
});
