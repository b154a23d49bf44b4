/**
 * The IXFR journal seen through `hms run` (issue 17 item 5), not through the Journal class:
 *   node dist/scripts/bench/service-bench.js [--records 50000] [--resigns 5] [--hms PATH/dist/src/cli/main.js] [--json FILE] [--keep]
 * In a temporary folder: a generated zone of `records` records (zone-generator.ts), a SoftHSM
 * token of its own, a policy (the DP policy, every field its default: NSEC3, every signature
 * refreshed at each re-sign, so each version's diff holds every RRSIG twice), a configuration
 * with one listed secondary: a Knot DNS on 127.0.0.4 taking each version by IXFR (a secondary
 * that never answers would keep each version's predecessor in memory for the NOTIFY's retries,
 * some 85 s, and measure that). `--hms` picks the hms to measure (default this tree's build), so
 * that an older build runs the same measurement. Then, with SOA queries over UDP (TSIG-signed,
 * through src/transfer/client.ts, from 127.0.0.4) sent every 50 ms while anything happens:
 *   1. `hms run` until the first signing is published: its time, and the service's RSS
 *      (/proc/PID/status VmRSS, 1 s after) and peak (VmHWM);
 *   2. `resigns` times `hms zone resign` through the control socket: the command's time, the
 *      time until Knot acknowledged the version's NOTIFY (sent once its journal diff is written)
 *      and until hms saw Knot serve it, the longest an SOA query waited for its answer in that
 *      span, and RSS 1 s after;
 *   3. SIGTERM, then `hms run` again: the time from the start to the first SOA answer, RSS then
 *      and once the zone is resumed;
 *   4. an IXFR from the oldest kept serial (the first signing's), twice: its time, the versions
 *      and records it carried, the longest SOA wait meanwhile, and RSS after.
 * Figures of 2026-12-06 (50,000 records, 5 re-signs, 2 cores, one taken by another job; the
 * commit message has the whole table): SOA waits during a re-sign 0.9-1.3 s (the whole-file
 * journal of 9b24a3e: 1.4 rising to 5.1 s), peak RSS 574 MiB (1032), after a restart the first
 * answer at 3.0 s with 203 MiB (7.5 s, 928 MiB); an IXFR of the 5 kept versions 3.8-4.1 s, but
 * SOA answers waited up to 1.2-3.3 s meanwhile (0.14-0.56 s on 9b24a3e). Since a TCP answer
 * lets the event loop turn every 20 ms (tcp-connection.ts), 3 re-signs on a quieter machine:
 * an IXFR of the 3 kept versions (460,988 records) 2.2-2.4 s, SOA waits at most 154-161 ms.
 * Knot shares the machine: its CPU is in the figures. Every service started is stopped, every wait bounded. Figures, not goals: the exit code is 0
 * when every step ran, 1 when one failed (the folder is then kept and named).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Rcode, type DecodedMessage } from '../../src/dns/message.js';
import { Name } from '../../src/dns/name.js';
import { makeTsigKey } from '../../src/dns/tsig.js';
import { RRType } from '../../src/dns/types.js';
import { query, transferStream, type Server } from '../../src/transfer/client.js';
import { hmsConfig, knotSecondaryConf } from '../lab/configs.js';
import { generateZone } from './zone-generator.js';

const ROOT = join(import.meta.dirname, '../../..');
const ORIGIN = 'bench.example';
const SECRET = randomBytes(32).toString('base64');
const KEY = makeTsigKey('xfr-key', 'hmac-sha256', SECRET);
const PROBE_EVERY_MS = 50;
/** A probe not answered within this long counts as lost (its wait as at least this). */
const PROBE_TIMEOUT_MS = 120_000;
const SIGN_TIMEOUT_MS = 1_800_000;
const STOP_TIMEOUT_MS = 120_000;

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at < 0 ? undefined : args[at + 1];
};
const RECORDS = Number(option('records') ?? 50_000);
const RESIGNS = Number(option('resigns') ?? 5);
const HMS = resolve(option('hms') ?? join(ROOT, 'dist/src/cli/main.js'));
if (!Number.isInteger(RECORDS) || RECORDS < 100) throw new Error('--records takes a whole number of at least 100');
if (!Number.isInteger(RESIGNS) || RESIGNS < 1) throw new Error('--resigns takes a whole number of at least 1');
if (!existsSync(HMS)) throw new Error(`${HMS} is missing: build that tree first (npm run build)`);

const mib = (kib: number): number => Math.round(kib / 1024);
const seconds = (ms: number): number => Math.round(ms) / 1000;

/** VmRSS and VmHWM of a process, in MiB. */
function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: mib(field('VmRSS')), peakMiB: mib(field('VmHWM')) };
}

/** The serial of an SOA's RDATA: the fifth field from the end, whatever its names' compression. */
const soaSerialAtEnd = (rdata: Uint8Array): number => Buffer.from(rdata.buffer, rdata.byteOffset, rdata.length).readUInt32BE(rdata.length - 20);

function soaSerialOf(decoded: DecodedMessage): number | undefined {
  const soa = decoded.records.slice(0, decoded.header.ancount).find((r) => r.type === RRType.SOA);
  return soa === undefined ? undefined : soaSerialAtEnd(soa.rdata);
}

/** The lab: folder, token, configuration; the service and what it logged. */
class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), 'hms-service-bench-'));
  readonly server: Server = { address: '127.0.0.1', port: 20000 + Math.floor(Math.random() * 30000) };
  /** The listed secondary, a Knot DNS taking each version by IXFR; the SOA probes come from its address (the only one listed). */
  readonly secondary: Server = { address: '127.0.0.4', port: this.server.port + 1 };
  readonly env: NodeJS.ProcessEnv = { ...process.env, SOFTHSM2_CONF: join(this.dir, 'softhsm2.conf') };
  readonly log = join(this.dir, 'hms.log');
  private logRead = 0;
  private logText = '';
  service: { child: ChildProcess; exited: Promise<void>; startedAt: number } | undefined;
  private knot: { child: ChildProcess; exited: Promise<void> } | undefined;

  get config(): string {
    return join(this.dir, 'hms.yaml');
  }

  async prepare(): Promise<void> {
    mkdirSync(join(this.dir, 'tokens'));
    writeFileSync(this.env.SOFTHSM2_CONF!, `directories.tokendir = ${join(this.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const pin = randomBytes(8).toString('hex');
    // this tree's token initialisation, in a process of its own (SoftHSM reads SOFTHSM2_CONF once); the PIN through the environment, never argv
    const init = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { initToken } from ${JSON.stringify(join(ROOT, 'dist/src/hsm/token-init.js'))};
      if (!initToken({ label: 'hms-bench', soPin: process.env.SO_PIN, pin: process.env.PIN })) process.exit(3);`,
      ],
      { env: { ...this.env, PIN: pin, SO_PIN: randomBytes(8).toString('hex') }, encoding: 'utf8', timeout: 60_000 },
    );
    if (init.status !== 0) throw new Error(`token init: ${init.stderr || init.error?.message}`);
    writeFileSync(join(this.dir, 'pin'), pin, { mode: 0o600 });
    writeFileSync(join(this.dir, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
    mkdirSync(join(this.dir, 'zones'));
    mkdirSync(join(this.dir, 'state'), { mode: 0o700 });
    const written = await generateZone(join(this.dir, `zones/${ORIGIN}.zone`), ORIGIN, RECORDS);
    console.log(`zone ${ORIGIN}: ${written} records; lab ${this.dir}; hms ${HMS}`);
    writeFileSync(join(this.dir, 'policy.yaml'), 'policies:\n  bench:\n    description: the DP policy (every field its default), for the service benchmark\n');
    // re-signs come from this script alone (the schedule's is once a year)
    writeFileSync(
      this.config,
      hmsConfig({
        token: 'hms-bench',
        listen: `${this.server.address}:${this.server.port}`,
        policies: ['policy.yaml'],
        service: '  resign: "17 3 1 1 *"',
        secondaries: { knot: { address: this.secondary.address, notify: `${this.secondary.address}:${this.secondary.port}` } },
        example: { zone: ORIGIN, input: `zones/${ORIGIN}.zone`, policy: 'bench' },
      }),
    );
  }

  /** Starts the listed secondary: Knot DNS, keeping the zone in memory only (no zone file, no journal of its own). */
  startKnot(): void {
    const dir = join(this.dir, 'knot');
    knotSecondaryConf(dir, {
      zone: ORIGIN,
      address: this.secondary.address,
      port: this.secondary.port,
      primary: this.server,
      secret: SECRET,
      memoryOnly: true,
      transferOut: false,
    });
    const out = openSync(join(this.dir, 'knot.log'), 'a');
    const child = spawn('knotd', ['-c', join(dir, 'knot.conf')], { cwd: this.dir, stdio: ['ignore', out, out] });
    closeSync(out);
    this.knot = { child, exited: new Promise<void>((done) => child.on('exit', () => done())) };
  }

  async stopKnot(): Promise<void> {
    const k = this.knot;
    if (k === undefined || k.child.exitCode !== null || k.child.signalCode !== null) return;
    k.child.kill('SIGTERM');
    const timer = setTimeout(() => k.child.kill('SIGKILL'), 30_000);
    await k.exited;
    clearTimeout(timer);
  }

  /**
   * The version a re-sign published, from hms's log after offset `from`: its serial, when its
   * NOTIFY was acknowledged (sent once its journal diff is written) and when the secondary was seen
   * serving it (ms since the epoch, from the lines' `time`: an ISO time, or ms). Waits for the last, bounded.
   */
  async announced(from: number, timeoutMs: number): Promise<{ serial: number; notifiedAt: number; servedAt: number }> {
    await this.waitForLog(/"msg":"secondary (does not )?serves? the new version"/, timeoutMs, from);
    const lines = this.logged()
      .slice(from)
      .split('\n')
      .map((l): { msg?: string; at?: number; serial?: number } => {
        try {
          const line = JSON.parse(l) as { msg?: string; time?: number | string; serial?: number };
          return { ...line, at: typeof line.time === 'string' ? Date.parse(line.time) : line.time };
        } catch {
          return {};
        }
      });
    const served = lines.find((l) => l.msg === 'secondary serves the new version');
    if (served?.serial === undefined || served.at === undefined)
      throw new Error(
        `the secondary does not serve the new version: ${lines
          .filter((l) => l.msg?.startsWith('secondary') === true)
          .map((l) => JSON.stringify(l))
          .join(' ')}`,
      );
    const notified = lines.find((l) => l.msg === 'notify, acknowledged' && l.serial === served.serial);
    return { serial: served.serial, notifiedAt: notified?.at ?? NaN, servedAt: served.at };
  }

  /** Starts `hms run`, its output appended to hms.log. */
  start(): void {
    const out = openSync(this.log, 'a');
    const child = spawn(process.execPath, [HMS, 'run', '--config', this.config], { cwd: this.dir, env: this.env, stdio: ['ignore', out, out] });
    closeSync(out);
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    this.service = { child, exited, startedAt: performance.now() };
  }

  get pid(): number {
    const pid = this.service?.child.pid;
    if (pid === undefined) throw new Error('the service is not running');
    return pid;
  }

  private alive(): boolean {
    const c = this.service?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** What hms logged since the lab began. */
  logged(): string {
    const fd = openSync(this.log, 'r');
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let n; (n = readSync(fd, chunk, 0, chunk.length, this.logRead)) > 0;) {
        this.logText += chunk.toString('utf8', 0, n);
        this.logRead += n;
      }
    } finally {
      closeSync(fd);
    }
    return this.logText;
  }

  /** Waits until hms logs `pattern` after offset `from` of its log; throws when it does not within `timeoutMs` or exits. */
  async waitForLog(pattern: RegExp, timeoutMs: number, from = 0): Promise<void> {
    const end = performance.now() + timeoutMs;
    while (performance.now() < end) {
      if (pattern.test(this.logged().slice(from))) return;
      if (!this.alive()) throw new Error(`hms exited before logging ${pattern}: ${this.logged().slice(-1500)}`);
      await delay(100);
    }
    throw new Error(`hms did not log ${pattern} within ${timeoutMs / 1000} s`);
  }

  /** SIGTERM, then SIGKILL if it is still running after STOP_TIMEOUT_MS; the seconds it took and whether it had to be killed. */
  async stop(): Promise<{ seconds: number; killed: boolean }> {
    const s = this.service;
    if (s === undefined) return { seconds: 0, killed: false };
    const t0 = performance.now();
    let killed = false;
    if (this.alive()) {
      s.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        killed = true;
        s.child.kill('SIGKILL');
      }, STOP_TIMEOUT_MS);
      await s.exited;
      clearTimeout(timer);
    }
    this.service = undefined;
    return { seconds: seconds(performance.now() - t0), killed };
  }

  /** An hms command, bounded in time: its seconds, exit status and output. */
  async cli(command: readonly string[], timeoutMs: number): Promise<{ seconds: number; status: number | null; output: string }> {
    const t0 = performance.now();
    const child = spawn(process.execPath, [HMS, ...command, '--config', this.config], { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const status = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    clearTimeout(timer);
    return { seconds: seconds(performance.now() - t0), status, output: output.trim() };
  }
}

/**
 * SOA queries over UDP every 50 ms until stopped: each one's wait for its answer. A query sent
 * while the service does not answer waits until it does (or PROBE_TIMEOUT_MS: lost).
 */
class Prober {
  private readonly waits: Promise<{ ms: number; serial?: number; answeredAt?: number; error?: string }>[] = [];
  private readonly timer: NodeJS.Timeout;
  private firstAnsweredAt: number | undefined;

  constructor(server: Server, timeoutMs = PROBE_TIMEOUT_MS) {
    const ask = (): void => {
      const t0 = performance.now();
      this.waits.push(
        query(server, { name: Name.parse(`${ORIGIN}.`), type: RRType.SOA, class: 1 }, { tsig: KEY, timeoutMs, source: { ipv4: '127.0.0.4' } }).then(
          (a) => {
            const answeredAt = performance.now();
            if (a.decoded.header.rcode !== Rcode.NOERROR) return { ms: answeredAt - t0, error: `rcode ${a.decoded.header.rcode}` };
            const serial = soaSerialOf(a.decoded);
            if (serial === undefined) return { ms: answeredAt - t0, error: 'no SOA in the answer' };
            this.firstAnsweredAt = Math.min(this.firstAnsweredAt ?? Infinity, answeredAt);
            return { ms: answeredAt - t0, serial, answeredAt };
          },
          (e: unknown) => ({ ms: performance.now() - t0, error: e instanceof Error ? e.message : String(e) }),
        ),
      );
    };
    ask();
    this.timer = setInterval(ask, PROBE_EVERY_MS);
  }

  /** The first answer's time (performance.now()), once there is one; undefined after `timeoutMs`. */
  async firstAnswer(timeoutMs: number): Promise<number | undefined> {
    const end = performance.now() + timeoutMs;
    while (this.firstAnsweredAt === undefined && performance.now() < end) await delay(10);
    return this.firstAnsweredAt;
  }

  /** Stops sending; waits for the queries out (each bounded) and sums them up. */
  async stop(): Promise<{ queries: number; answered: number; lost: number; maxWaitMs: number; errors: string[] }> {
    clearInterval(this.timer);
    const all = await Promise.all(this.waits);
    const answered = all.filter((r) => r.error === undefined);
    return {
      queries: all.length,
      answered: answered.length,
      lost: all.length - answered.length,
      maxWaitMs: Math.round(Math.max(0, ...answered.map((r) => r.ms))),
      errors: [...new Set(all.flatMap((r) => (r.error === undefined ? [] : [r.error])))].slice(0, 3),
    };
  }
}

/** An IXFR from `from`: its time, and what it carried (versions, records), read to its end. */
async function ixfr(server: Server, from: number): Promise<{ seconds: number; versions: number; records: number; messages: number; toSerial: number }> {
  const soa = Buffer.alloc(22);
  soa.writeUInt32BE(from, 2); // root MNAME and RNAME, then the serial the asker has
  const t0 = performance.now();
  let newest: number | undefined;
  let soas = 0;
  let records = 0;
  let incremental: boolean | undefined;
  let done = false;
  const messages = await transferStream(
    server,
    { name: Name.parse(`${ORIGIN}.`), type: RRType.IXFR, class: 1 },
    (decoded) => {
      if (decoded.header.rcode !== Rcode.NOERROR) throw new Error(`IXFR answered with rcode ${decoded.header.rcode}`);
      for (const r of decoded.records.slice(0, decoded.header.ancount)) {
        records++;
        const serial = r.type === RRType.SOA ? soaSerialAtEnd(r.rdata) : undefined;
        if (records === 1) {
          newest = serial;
          continue;
        }
        if (records === 2) incremental = serial !== undefined && serial !== newest;
        if (serial === undefined) continue;
        soas++;
        // an IXFR's SOAs after the first go old, new, old, new...; it ends on the newest in an old one's place; an AXFR on its second SOA
        if (!incremental || (soas % 2 === 1 && serial === newest)) done = true;
      }
      return !done;
    },
    { tsig: KEY, source: { ipv4: '127.0.0.4' }, authority: [{ owner: Name.parse(`${ORIGIN}.`), type: RRType.SOA, ttl: 0, rdata: soa }], timeoutMs: 600_000 },
  );
  if (incremental !== true) throw new Error(`the IXFR from ${from} was answered with the whole zone (${records} records), not the diffs`);
  return { seconds: seconds(performance.now() - t0), versions: (soas - 1) / 2, records, messages: messages.length, toSerial: newest! };
}

async function main(): Promise<void> {
  const lab = new Lab();
  const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  const result: Record<string, unknown> = { hms: HMS, records: RECORDS, resigns: RESIGNS, lab: lab.dir };
  let ok = false;
  try {
    await lab.prepare();
    // 1. the first signing
    lab.startKnot();
    lab.start();
    await lab.waitForLog(/"msg":"zone signed and published"/, SIGN_TIMEOUT_MS);
    const firstSignSeconds = seconds(performance.now() - lab.service!.startedAt);
    const first = await lab.announced(0, 300_000);
    await delay(1000);
    const answer = await query(
      lab.server,
      { name: Name.parse(`${ORIGIN}.`), type: RRType.SOA, class: 1 },
      { tsig: KEY, timeoutMs: 30_000, source: { ipv4: '127.0.0.4' } },
    );
    const s0 = soaSerialOf(answer.decoded);
    if (s0 !== first.serial) throw new Error(`the service answers serial ${s0}, its NOTIFY said ${first.serial}`);
    const served = [s0];
    result.firstSigning = { seconds: firstSignSeconds, serial: s0, ...memory(lab.pid) };
    console.log('first signing', JSON.stringify(result.firstSigning));

    // 2. the re-signs
    const resigns: unknown[] = [];
    for (let i = 1; i <= RESIGNS; i++) {
      const prober = new Prober(lab.server);
      const from = lab.logged().length;
      const wall0 = Date.now();
      const cli = await lab.cli(['zone', 'resign', ORIGIN], SIGN_TIMEOUT_MS);
      if (cli.status !== 0) {
        await prober.stop();
        throw new Error(`hms zone resign ${ORIGIN}: exit ${cli.status}: ${cli.output.slice(-800)}`);
      }
      const published = await lab.announced(from, 300_000);
      served.push(published.serial);
      await delay(1000);
      const probes = await prober.stop();
      await delay(1000);
      const r = {
        resign: i,
        serial: published.serial,
        commandSeconds: cli.seconds,
        untilNotifySeconds: seconds(published.notifiedAt - wall0),
        untilServedSeconds: seconds(published.servedAt - wall0),
        soaMaxWaitMs: probes.maxWaitMs,
        soaQueries: probes.queries,
        soaLost: probes.lost,
        ...(probes.errors.length > 0 ? { soaErrors: probes.errors } : {}),
        ...memory(lab.pid),
      };
      resigns.push(r);
      console.log('re-sign', JSON.stringify(r));
    }
    result.resigns = resigns;
    result.beforeRestart = memory(lab.pid);

    // 3. stop and start again
    const stopped = await lab.stop();
    const resumedFrom = lab.logged().length;
    lab.start();
    const startedAt = lab.service!.startedAt;
    const startProbe = new Prober(lab.server, 1000);
    const answeredAt = await startProbe.firstAnswer(SIGN_TIMEOUT_MS);
    const atFirstAnswer = memory(lab.pid);
    await startProbe.stop();
    if (answeredAt === undefined) throw new Error('no SOA answer after the restart');
    await lab.waitForLog(/"msg":"zone resumed: the signed version on disk is current"/, SIGN_TIMEOUT_MS, resumedFrom);
    const resumedSeconds = seconds(performance.now() - startedAt);
    await delay(3000);
    const journalOpened = /"msg":"journal, opened"/.test(lab.logged().slice(resumedFrom))
      ? /"versions":(\d+)[^\n]*"msg":"journal, opened"/.exec(lab.logged().slice(resumedFrom))?.[1]
      : undefined;
    result.restart = {
      stopSeconds: stopped.seconds,
      stopKilled: stopped.killed,
      firstAnswerSeconds: seconds(answeredAt - startedAt),
      rssAtFirstAnswerMiB: atFirstAnswer.rssMiB,
      resumedSeconds,
      idle: memory(lab.pid),
      ...(journalOpened === undefined ? {} : { journalVersionsOpened: Number(journalOpened) }),
    };
    console.log('restart', JSON.stringify(result.restart));

    // 4. IXFR from the oldest kept version, SOA probes meanwhile; twice (the first after a start may check the diffs first)
    const transfers: unknown[] = [];
    for (let n = 1; n <= 2; n++) {
      const prober = new Prober(lab.server);
      const transfer = await ixfr(lab.server, s0);
      const probes = await prober.stop();
      if (transfer.toSerial !== served.at(-1)) throw new Error(`the IXFR led to ${transfer.toSerial}, not the last version ${served.at(-1)}`);
      transfers.push({ from: s0, ...transfer, soaMaxWaitMs: probes.maxWaitMs, soaLost: probes.lost, ...memory(lab.pid) });
      console.log('ixfr', JSON.stringify(transfers.at(-1)));
    }
    result.ixfr = transfers;
    result.loadAverage = { before: loadBefore, after: loadavg().map((l) => Math.round(l * 100) / 100) };
    ok = true;
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    result.error = error;
    console.error(`FAILED: ${error}`);
  } finally {
    await lab.stop();
    await lab.stopKnot();
    if (ok && !args.includes('--keep')) rmSync(lab.dir, { recursive: true, force: true });
    else console.log(`lab kept: ${lab.dir}`);
  }
  printTable(result);
  const json = option('json');
  if (json !== undefined) writeFileSync(json, `${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = ok ? 0 : 1;
}

function printTable(r: Record<string, unknown>): void {
  const f = r.firstSigning as { seconds: number; rssMiB: number; peakMiB: number } | undefined;
  const rs = (r.resigns ?? []) as {
    resign: number;
    commandSeconds: number;
    untilNotifySeconds: number;
    untilServedSeconds: number;
    soaMaxWaitMs: number;
    soaLost: number;
    rssMiB: number;
    peakMiB: number;
  }[];
  const st = r.restart as
    { firstAnswerSeconds: number; rssAtFirstAnswerMiB: number; resumedSeconds: number; idle: { rssMiB: number; peakMiB: number } } | undefined;
  const xs = (r.ixfr ?? []) as { seconds: number; versions: number; records: number; soaMaxWaitMs: number; rssMiB: number; peakMiB: number }[];
  console.log(`\n| step | seconds | longest SOA wait ms (lost) | RSS MiB | peak MiB |`);
  console.log('|---|---:|---:|---:|---:|');
  if (f) console.log(`| first signing | ${f.seconds} | | ${f.rssMiB} | ${f.peakMiB} |`);
  for (const s of rs)
    console.log(
      `| re-sign ${s.resign} (command / NOTIFY acknowledged / secondary serves it) | ${s.commandSeconds} / ${s.untilNotifySeconds} / ${s.untilServedSeconds} | ${s.soaMaxWaitMs} (${s.soaLost}) | ${s.rssMiB} | ${s.peakMiB} |`,
    );
  if (st)
    console.log(
      `| restart: first SOA answer / zone resumed | ${st.firstAnswerSeconds} / ${st.resumedSeconds} | | ${st.rssAtFirstAnswerMiB} / ${st.idle.rssMiB} | ${st.idle.peakMiB} |`,
    );
  xs.forEach((x, i) =>
    console.log(
      `| IXFR ${i + 1} from the oldest kept serial (${x.versions} versions, ${x.records} records) | ${x.seconds} | ${x.soaMaxWaitMs} | ${x.rssMiB} | ${x.peakMiB} |`,
    ),
  );
  const load = r.loadAverage as { before: number[]; after: number[] } | undefined;
  if (load) console.log(`\nload average (1, 5, 15 min): ${load.before.join(', ')} before, ${load.after.join(', ')} after`);
}

await main();
