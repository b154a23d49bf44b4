/**
 * What the service benchmarks share (service-bench.ts, zones-bench.ts, service-run.ts): a lab
 * folder with a SoftHSM token of its own, `hms run` started and stopped in it with its log in
 * a file, hms commands against it, the process's memory, threads and descriptors from /proc,
 * and SOA queries (TSIG-signed, from the listed secondary's address 127.0.0.4) to see which
 * serial it serves. Every wait is bounded; every service started is stopped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Rcode, type DecodedMessage } from '../../src/dns/message.js';
import { Name } from '../../src/dns/name.js';
import { makeTsigKey, type TsigKey } from '../../src/dns/tsig.js';
import { RRType } from '../../src/dns/types.js';
import { query, type Server } from '../../src/transfer/client.js';
import { hmsConfig, knotSecondaryConf, type HmsConfigOptions } from '../lab/configs.js';

export const ROOT = join(import.meta.dirname, '../../..');
const STOP_TIMEOUT_MS = 120_000;

/** The value after `--name` on the command line, if given. */
export function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : process.argv[at + 1];
}

export const mib = (kib: number): number => Math.round(kib / 1024);
export const seconds = (ms: number): number => Math.round(ms) / 1000;

export interface Usage {
  /** VmRSS and VmHWM, MiB. */
  readonly rssMiB: number;
  readonly peakMiB: number;
  readonly threads: number;
  /** Open descriptors (/proc/PID/fd). */
  readonly fds: number;
}

/**
 * What runs `hms` from the build whose main.js is `main`: the node flags of its first line
 * (`#!/usr/bin/env -S node FLAGS`, as the installed `hms` runs), then the script.
 */
export function hmsArgs(main: string): string[] {
  const first = readFileSync(main, 'utf8').split('\n', 1)[0]!;
  const flags = /^#!\/usr\/bin\/env(?: -S)? node(.*)$/.exec(first)?.[1]?.trim() ?? '';
  return [...(flags === '' ? [] : flags.split(/\s+/)), main];
}

/** `hmsArgs` of the build in the repository `root`. */
export const hmsNode = (root: string): string[] => hmsArgs(join(root, 'dist/src/cli/main.js'));

/** A process's VmRSS, VmHWM (MiB), threads and open descriptors. */
export function usage(pid: number): Usage {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: mib(field('VmRSS')), peakMiB: mib(field('VmHWM')), threads: field('Threads'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** The serial of an SOA's RDATA: the fifth field from the end, whatever its names' compression. */
export const soaSerialAtEnd = (rdata: Uint8Array): number => Buffer.from(rdata.buffer, rdata.byteOffset, rdata.length).readUInt32BE(rdata.length - 20);

export function soaSerialOf(decoded: DecodedMessage): number | undefined {
  const soa = decoded.records.slice(0, decoded.header.ancount).find((r) => r.type === RRType.SOA);
  return soa === undefined ? undefined : soaSerialAtEnd(soa.rdata);
}

/** The zones 'zone signed and published' lines name in a log text, with how often. */
export function signedCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/"zone":"([^"]+)"[^\n]*"msg":"zone signed and published"/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  return counts;
}

/** A lab folder: a token of its own, the PIN and a TSIG secret in files, `hms run` and its log. */
export class ServiceLab {
  readonly dir: string;
  readonly server: Server;
  /** The listed secondary's address: SOA queries come from it. */
  readonly secondaryAddress = '127.0.0.4';
  /** Where a Knot DNS secondary listens when the lab has one (startKnot). */
  readonly secondary: Server;
  private knot: { child: ChildProcess; exited: Promise<void> } | undefined;
  readonly secret: string;
  readonly tsig: TsigKey;
  readonly env: NodeJS.ProcessEnv;
  readonly log: string;
  readonly tokenLabel = 'hms-bench';
  private logRead = 0;
  private logText = '';
  service: { child: ChildProcess; exited: Promise<void>; startedAt: number } | undefined;

  /** `hms`: the main.js of the build measured; `reuse`: a lab folder kept from an earlier run (--keep), its configuration, token, keys and state as they are. */
  constructor(
    prefix: string,
    readonly hms: string,
    reuse?: string,
  ) {
    this.dir = reuse ?? mkdtempSync(join(tmpdir(), prefix));
    const port =
      reuse === undefined ? 20000 + Math.floor(Math.random() * 30000) : Number(/listen: \["127\.0\.0\.1:(\d+)"\]/.exec(readFileSync(this.config, 'utf8'))?.[1]);
    this.server = { address: '127.0.0.1', port };
    this.secondary = { address: this.secondaryAddress, port: port + 1 };
    this.secret = reuse === undefined ? randomBytes(32).toString('base64') : readFileSync(join(reuse, 'xfr.secret'), 'utf8').trim();
    this.tsig = makeTsigKey('xfr-key', 'hmac-sha256', this.secret);
    this.env = { ...process.env, SOFTHSM2_CONF: join(this.dir, 'softhsm2.conf') };
    this.log = join(this.dir, 'hms.log');
  }

  get config(): string {
    return join(this.dir, 'hms.yaml');
  }

  get pinFile(): string {
    return join(this.dir, 'pin');
  }

  /** The token (initialised by the measured build, in a process of its own: SoftHSM reads SOFTHSM2_CONF once; the PINs through the environment), the PIN and TSIG secret files, zones/ and state/. */
  prepare(): void {
    mkdirSync(join(this.dir, 'tokens'));
    writeFileSync(this.env.SOFTHSM2_CONF!, `directories.tokendir = ${join(this.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const pin = randomBytes(8).toString('hex');
    const init = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { initToken } from ${JSON.stringify(join(this.hms, '../../hsm/token-init.js'))};
        if (!initToken({ label: ${JSON.stringify(this.tokenLabel)}, soPin: process.env.SO_PIN, pin: process.env.PIN })) process.exit(3);`,
      ],
      { env: { ...this.env, PIN: pin, SO_PIN: randomBytes(8).toString('hex') }, encoding: 'utf8', timeout: 60_000 },
    );
    if (init.status !== 0) throw new Error(`token init: ${init.stderr || init.error?.message}`);
    writeFileSync(this.pinFile, pin, { mode: 0o600 });
    writeFileSync(join(this.dir, 'xfr.secret'), `${this.secret}\n`, { mode: 0o600 });
    mkdirSync(join(this.dir, 'zones'));
    mkdirSync(join(this.dir, 'state'), { mode: 0o700 });
  }

  /**
   * policy.yaml (bench: the DP policy, every field its default) and hms.yaml on the lab's
   * token and listen address; re-signs come from the benchmark alone (the schedule's is once a year).
   */
  writeConfig(o: Pick<HmsConfigOptions, 'secondaries' | 'example' | 'zones'>): void {
    writeFileSync(join(this.dir, 'policy.yaml'), 'policies:\n  bench:\n    description: the DP policy (every field its default), for the service benchmarks\n');
    writeFileSync(
      this.config,
      hmsConfig({
        token: this.tokenLabel,
        listen: `${this.server.address}:${this.server.port}`,
        policies: ['policy.yaml'],
        service: '  resign: "17 3 1 1 *"',
        ...o,
      }),
    );
  }

  /**
   * Starts `hms run`, its output appended to hms.log. HMS_BENCH_SERVICE_FLAGS adds node flags
   * to the service alone (say `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it: node
   * refuses those in NODE_OPTIONS).
   */
  start(): void {
    const out = openSync(this.log, 'a');
    const extra = (process.env.HMS_BENCH_SERVICE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
    const child = spawn(process.execPath, [...extra, ...hmsArgs(this.hms), 'run', '--config', this.config], {
      cwd: this.dir,
      env: this.env,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    this.service = { child, exited, startedAt: performance.now() };
  }

  get pid(): number {
    const pid = this.service?.child.pid;
    if (pid === undefined) throw new Error('the service is not running');
    return pid;
  }

  alive(): boolean {
    const c = this.service?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  /** What hms logged since the lab began. */
  logged(): string {
    if (!existsSync(this.log)) return '';
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
      s.child.kill('SIGCONT'); // a benchmark may have stopped it to take its turn
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

  /** An hms command against the lab's configuration, bounded in time: its seconds, exit status and output. */
  async cli(command: readonly string[], timeoutMs: number): Promise<{ seconds: number; status: number | null; output: string }> {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...hmsArgs(this.hms), ...command, '--config', this.config], {
      cwd: this.dir,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const status = await new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    clearTimeout(timer);
    return { seconds: seconds(performance.now() - t0), status, output: output.trim() };
  }

  /** The serial the service answers for `zone`'s SOA (UDP, TSIG, from the secondary's address); undefined when it does not answer NOERROR with one. */
  async soa(zone: string, timeoutMs = 3000): Promise<number | undefined> {
    try {
      const a = await query(
        this.server,
        { name: Name.parse(zone), type: RRType.SOA, class: 1 },
        { tsig: this.tsig, timeoutMs, source: { ipv4: this.secondaryAddress } },
      );
      return a.decoded.header.rcode === Rcode.NOERROR ? soaSerialOf(a.decoded) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Asks every zone's SOA, 50 at a time, round after round, until each answers a serial
   * `wanted` accepts (e.g. any, or one above the last): the time (performance.now()) its last
   * one was seen, and the serials; `pauseMs` between rounds; throws after `timeoutMs` or when
   * the service exits.
   */
  async allServed(
    zones: readonly string[],
    wanted: (zone: string, serial: number) => boolean,
    timeoutMs: number,
    pauseMs = 200,
  ): Promise<{ at: number; serials: Map<string, number> }> {
    const serials = new Map<string, number>();
    let left = [...zones];
    const end = performance.now() + timeoutMs;
    let at = performance.now();
    while (left.length > 0) {
      if (performance.now() > end)
        throw new Error(`${zones.length - left.length} of ${zones.length} zones served after ${timeoutMs / 1000} s (e.g. not ${left[0]})`);
      if (!this.alive()) throw new Error(`hms exited: ${this.logged().slice(-1500)}`);
      const next: string[] = [];
      for (let i = 0; i < left.length; i += 50) {
        const batch = left.slice(i, i + 50);
        const got = await Promise.all(batch.map((z) => this.soa(z, 1000)));
        batch.forEach((z, j) => {
          const s = got[j];
          if (s !== undefined && wanted(z, s)) {
            serials.set(z, s);
            at = performance.now();
          } else next.push(z);
        });
      }
      left = next;
      if (left.length > 0) await delay(pauseMs);
    }
    return { at, serials };
  }

  /** Starts the listed secondary (`secondary`) for `zone`: Knot DNS, keeping the zone in memory only (no zone file, no journal of its own). */
  startKnot(zone: string): void {
    const dir = join(this.dir, 'knot');
    knotSecondaryConf(dir, {
      zone,
      address: this.secondary.address,
      port: this.secondary.port,
      primary: this.server,
      secret: this.secret,
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

  /** Removes the folder when all went well and `keep` is not asked; else names it. */
  cleanUp(ok: boolean, keep: boolean): void {
    if (ok && !keep) rmSync(this.dir, { recursive: true, force: true });
    else console.log(`lab kept: ${this.dir}`);
  }
}
