import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { highPort, startDaemon, type Daemon } from './helpers/daemons.js';
import { HMS, requireTool, ROOT, run, verifyServiceOutput, verifySignedZone } from './helpers/run.js';
import { loopbackServiceConfig } from './helpers/service.js';
import { throwawayToken } from './helpers/softhsm.js';

/**
 * Issue 19 item 4: logs people can read, and the progress of a long signing. `hms sign` on a
 * zone of some thousands of names with a short --progress-interval: JSON progress lines on
 * stderr when it is a pipe, pretty ones with --log-format pretty, a bar drawn in place under a
 * pseudo terminal (`script` from util-linux). `hms run` under a pseudo terminal writes one
 * readable UTC line per event (audit records shortened) and its signing progress; piped, JSON.
 * Every signed zone passes the three validators; every service started is stopped.
 */
const TOKEN = 'hms-logs';
const ORIGIN = 'progress.example';
const UTC_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PRETTY = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /;
let tmp: string;
let token: ReturnType<typeof throwawayToken> | undefined;
const daemons: Daemon[] = [];

/** A zone of `names` names with an address and a text record each. */
function bigZone(origin: string, names: number): string {
  const lines = ['$TTL 3600', '@ SOA ns1 hostmaster 1 7200 900 1209600 300', '@ NS ns1', 'ns1 A 192.0.2.53'];
  for (let i = 0; i < names; i++) lines.push(`h${i} A 192.0.2.${i % 250}`, `h${i} TXT "name ${i} of ${origin}"`);
  return `${lines.join('\n')}\n`;
}

const json = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** A shell word of `text` (for the command line `script -c` runs). */
const quoted = (text: string): string => `'${text.replaceAll("'", `'\\''`)}'`;

beforeAll(() => {
  for (const tool of ['script', 'dnssec-verify', 'ldns-verify-zone', 'kzonecheck']) requireTool(tool);
  tmp = mkdtempSync(join(tmpdir(), 'hms-logs-'));
  token = throwawayToken(TOKEN);
  writeFileSync(join(tmp, 'pin'), token.pin, { mode: 0o600 });
  writeFileSync(join(tmp, 'zone'), bigZone(ORIGIN, 3000));
});

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  token?.dispose();
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
});

describe('hms sign reports the progress of a long signing (issue 19)', () => {
  const sign = (out: string, extra: readonly string[] = []): string[] => [
    HMS,
    'sign',
    '--origin',
    ORIGIN,
    '--in',
    join(tmp, 'zone'),
    '--out',
    out,
    '--token',
    TOKEN,
    '--pin-file',
    join(tmp, 'pin'),
    ...extra,
  ];

  it('DK-16 piped: JSON progress lines on stderr every interval, counts rising to the whole zone; --now without a zone is UTC', () => {
    const out = join(tmp, 'piped.signed');
    // now, written without a zone designator, under a host time zone five hours behind UTC
    const now = Math.floor(Date.now() / 1000);
    const nowText = new Date(now * 1000).toISOString().slice(0, 19);
    const r = spawnHms([...sign(out, ['--now', nowText, '--progress-interval', '0.2'])], { TZ: 'America/New_York' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^progress\.example\.: signed, serial \d+, \d+ records \(\d+ signatures\), written to /);
    const lines = json(r.stderr);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) {
      expect(l).toMatchObject({ level: 30, msg: 'signing progress', zone: 'progress.example.' });
      expect(l.time).toMatch(UTC_TIME);
    }
    const signing = lines.filter((l) => l.phase === 'signing');
    expect(signing.length).toBeGreaterThanOrEqual(1);
    for (const l of signing) {
      expect(l.recordsTotal).toBe(6003);
      for (const k of ['recordsRead', 'signatures', 'signaturesPerSecond', 'percent']) expect(typeof l[k], k).toBe('number');
      expect(l.secondsLeft === null || typeof l.secondsLeft === 'number').toBe(true);
    }
    for (let i = 1; i < signing.length; i++) expect(signing[i]!.signatures as number).toBeGreaterThanOrEqual(signing[i - 1]!.signatures as number);
    expect(verifySignedZone(ORIGIN, out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
    // the signatures start an hour before --now, taken as UTC (in New York time they would start 5 hours later)
    const inception = new Date((now - 3600) * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const rrsig = readFileSync(out, 'latin1')
      .split('\n')
      .find((l) => /\sRRSIG\s+SOA\s/.test(l))!;
    expect(rrsig.split(/\s+/)[9]).toBe(inception);
  });

  it('--log-format pretty: one readable line per progress report', () => {
    const r = spawnHms(sign(join(tmp, 'pretty.signed'), ['--log-format', 'pretty', '--progress-interval', '0.2']));
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}signing progress progress\.example\.: /);
    expect(lines.some((l) => /: \d+%, [\d,]+\/6,003 records read, [\d,]+ signatures, [\d,]+\/s/.test(l))).toBe(true);
  });

  it('on a terminal: a bar on stderr redrawn in place, taken away before the result', () => {
    const out = join(tmp, 'tty.signed');
    const command = ['node', ...sign(out, ['--progress-interval', '0.2'])].map(quoted).join(' ');
    const r = run('script', ['-qfc', command, '/dev/null'], { timeoutMs: 120_000 });
    expect(r.status, r.stdout).toBe(0);
    const bars = r.stdout.split('\r\x1b[2K').filter((t) => t.startsWith(`${ORIGIN}. `));
    expect(bars.length).toBeGreaterThanOrEqual(2);
    expect(bars.some((b) => /^progress\.example\. \[[#-]{20}\] \d+%/.test(b))).toBe(true);
    // the bar is cleared, then the result printed on a line of its own; no JSON lines on a terminal
    expect(r.stdout).toMatch(/\r\x1b\[2Kprogress\.example\.: signed, serial \d+/);
    expect(r.stdout).not.toContain('{"level"');
    expect(verifySignedZone(ORIGIN, out)).toBe('PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck\n');
  });
});

describe('hms run: readable lines on a terminal, JSON through a pipe (issue 19)', () => {
  /** A service folder of its own: the example zone and big.example (2,000 names), on a high port. */
  function folder(name: string): string {
    const dir = join(tmp, name);
    mkdirSync(join(dir, 'zones'), { recursive: true });
    copyFileSync(join(tmp, 'pin'), join(dir, 'pin'));
    writeFileSync(join(dir, 'xfr.secret'), 'bG9ncy10ZXN0LXNlY3JldC1mb3ItdHNpZy0zMi1vY3RldHM=\n', { mode: 0o600 });
    copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(dir, 'zones/example.com.zone'));
    writeFileSync(join(dir, 'zones/big.example.zone'), bigZone('big.example', 2000));
    writeFileSync(
      join(dir, 'hms.yaml'),
      loopbackServiceConfig({ token: TOKEN, listen: `127.0.0.1:${highPort()}`, zones: '  big.example: { input: zones/big.example.zone, policy: dp }\n' }),
    );
    return dir;
  }
  const signedBoth =
    /zone signed and published[^\n]*big\.example[\s\S]*zone signed and published[^\n]*example\.com|zone signed and published[^\n]*example\.com[\s\S]*zone signed and published[^\n]*big\.example/;
  const signedBothJson =
    /"zone":"big\.example\."[^\n]*"msg":"zone signed and published"[\s\S]*"zone":"example\.com\."[^\n]*"msg":"zone signed and published"|"zone":"example\.com\."[^\n]*"msg":"zone signed and published"[\s\S]*"zone":"big\.example\."[^\n]*"msg":"zone signed and published"/;

  it('DK-16 under a pseudo terminal: one pretty UTC line per event, audit records shortened, signing progress', async () => {
    const dir = folder('tty');
    const pidFile = join(dir, 'hms.pid');
    const command = `echo $$ > ${quoted(pidFile)}; exec node ${quoted(HMS)} --progress-interval 0.2 run --config ${quoted(join(dir, 'hms.yaml'))}`;
    const daemon = await startDaemon('script', ['-qfc', command, '/dev/null'], signedBoth, {
      env: { ...process.env, NO_COLOR: '1', SHELL: '/bin/sh' },
      registry: daemons,
      timeoutMs: 90_000,
    });
    // hms stops on SIGTERM, and script with it (script's own SIGTERM would add a line of its own)
    const exited = new Promise<void>((resolve) => daemon.child.once('exit', () => resolve()));
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    await daemon.stop();
    expect(daemon.output()).toMatch(/ INFO {2}stopping signal=SIGTERM/);
    // log lines, with the bar's redraws (stderr is the same terminal) taken out
    const lines = daemon
      .output()
      .split(/\r?\n/)
      .map((l) => l.split('\r\x1b[2K').filter((p) => PRETTY.test(p))[0] ?? l.replace(/\r\x1b\[2K[^\r\n]*/g, ''))
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(5);
    for (const l of lines) expect(l).toMatch(PRETTY);
    expect(lines.some((l) => /Z INFO {2}zone signed and published zone=example\.com\. serial=\d+ /.test(l))).toBe(true);
    const audits = lines.filter((l) => / INFO {2}audit /.test(l));
    expect(audits.length).toBeGreaterThan(0);
    for (const a of audits) {
      expect(a).toMatch(/ INFO {2}audit [\w.-]+ zone=\S+ actor=\S+ seq=\d+/);
      expect(a).not.toMatch(/before|after|prevHash/);
    }
    expect(lines.some((l) => / INFO {2}signing progress big\.example\.: \d+%, [\d,]+\/4,003 records read/.test(l))).toBe(true);
    expect(verifyServiceOutput(join(dir, 'state'))).toEqual([]);
  }, 150_000);

  it('through a pipe: JSON lines with UTC times, signing progress among them', async () => {
    const dir = folder('piped');
    const daemon = await startDaemon('node', [HMS, 'run', '--progress-interval', '0.2', '--config', join(dir, 'hms.yaml')], signedBothJson, {
      registry: daemons,
      timeoutMs: 90_000,
    });
    await daemon.stop();
    const lines = json(daemon.output());
    expect(lines.length).toBeGreaterThan(5);
    for (const l of lines) expect(l.time).toMatch(UTC_TIME);
    expect(lines.filter((l) => l.msg === 'signing progress' && l.zone === 'big.example.' && l.phase === 'signing').length).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.msg === 'audit' && typeof (l.audit as { hash?: unknown }).hash === 'string')).toBe(true);
    expect(verifyServiceOutput(join(dir, 'state'))).toEqual([]);
  }, 150_000);
});

/** Runs hms with extra environment variables, bounded in time. */
function spawnHms(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return run('node', args, { timeoutMs: 120_000 });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
