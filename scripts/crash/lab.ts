/**
 * The crash-safety search (issue 17, item 2): `hms run` is killed with SIGKILL at chosen points
 * of a scenario (first signing of a zone, a re-sign, a ZSK roll, a DS approval), restarted, and
 * checked. The kill comes from strace's fault injection, outside hms: `-e inject=S:signal=KILL:
 * when=N` kills the process on entering the Nth call of syscall S. strace counts per thread, so
 * a point is (S, N) and it fires in the first thread that makes its Nth S; the points are taken
 * from a traced run of the same scenario without a kill, and the call a kill actually hit is
 * read back from its own trace (`hit`), so a report names what was cut, as planned or not.
 *
 * Each point runs in a lab of its own (a folder with the configuration, the zone, the state and
 * a SoftHSM token), prepared up to the step the same way each time, so that the traced run and
 * the killed run make the same calls. After the kill: the state's integrity_check, a restart
 * (hms run, untraced) until the zone is served, `hms audit verify`, `hms key list` (a recorded
 * key missing from the token is an ALARM and a failure; an orphan, a key in the token that the
 * state does not record, is a failure), the signed file the kill left and the version served
 * after the restart (AXFR with TSIG) held against every version seen served in the lab (a serial
 * never lower, never again for other data), and every version new to the lab through the three
 * validators (scripts/verify-signed-zone). Then the scenario continues: a re-sign through the
 * running service, checked the same way (a re-sign after the restart must not publish other
 * data under a serial already served).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { serialGreater } from '../../src/dns/serial.js';
import { hmsConfig, knotSecondaryConf } from '../lab/configs.js';

export const ROOT = join(import.meta.dirname, '../..').replace(/\/dist$/, '');
const HMS = join(ROOT, 'dist/src/cli/main.js');
const ZONE = 'example.com';
const SECRET = 'Y3Jhc2gtc2VhcmNoLXRzaWctc2VjcmV0LWZvci10ZXN0cw==';
/** The calls a kill may come before: the writes, renames, syncs and removals of files. */
export const TRACED = ['rename', 'renameat', 'renameat2', 'fsync', 'fdatasync', 'pwrite64', 'pwritev', 'write', 'writev', 'unlink', 'unlinkat'];
const WRITES = new Set(['write', 'writev', 'pwrite64', 'pwritev']);
/** The OS accounts of the DS approval: the second person (an approver), and the group that reaches the socket. */
const BOB = 'hmsc-bob';
const CTL_GROUP = 'hmsc-ctl';
const APPROVERS = 'hmsc-approve';

export type ScenarioName = 'first-signing' | 'resign' | 'zsk-roll' | 'ds-approval';
export const SCENARIOS: readonly ScenarioName[] = ['first-signing', 'resign', 'zsk-roll', 'ds-approval'];

/** One traced call: its thread, the syscall, which call of that syscall it is in its thread, the trace line. */
export interface Call {
  readonly tid: number;
  readonly syscall: string;
  readonly n: number;
  readonly line: string;
}

/** A kill point: SIGKILL on entering the nth `syscall` of the first thread to make that many; `what` says why it was chosen. */
export interface Point {
  readonly syscall: string;
  readonly n: number;
  readonly what: string;
}

/** What one point found. */
export interface Outcome {
  readonly scenario: ScenarioName;
  readonly point: Point;
  /** The call the kill came before, from the killed run's own trace; null when the run ended before the nth call. */
  readonly hit: string | null;
  /** False when this run made fewer such calls than the traced one (the point was not reached): then it was stopped, restarted and checked all the same. */
  readonly killed: boolean;
  readonly restarts: number;
  readonly failures: readonly string[];
  readonly figures: Figures;
}

export interface Figures {
  lostKeys: number;
  orphanKeys: number;
  reusedSerials: number;
  lowerSerials: number;
  invalidVersions: number;
  integrityFailures: number;
  auditFailures: number;
  versionsChecked: number;
}

const zeroFigures = (): Figures => ({
  lostKeys: 0,
  orphanKeys: 0,
  reusedSerials: 0,
  lowerSerials: 0,
  invalidVersions: 0,
  integrityFailures: 0,
  auditFailures: 0,
  versionsChecked: 0,
});

function sh(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
    env: options.env ?? process.env,
    cwd: options.cwd ?? ROOT,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Fails loudly when a tool the search needs is missing, and when ptrace is refused here. */
export function requireTools(): void {
  for (const t of ['strace', 'dig', 'named-compilezone', 'dnssec-verify', 'ldns-verify-zone', 'kzonecheck', 'runuser', 'useradd']) {
    if (sh('sh', ['-c', `command -v ${t}`]).status !== 0) throw new Error(`${t} is not installed: run scripts/setup first`);
  }
  const probe = sh('strace', ['-qq', '-o', '/dev/null', '-e', 'trace=write', 'true']);
  if (probe.status !== 0) throw new Error(`strace cannot trace here (ptrace refused?): ${probe.stderr.trim()}`);
  if (!existsSync(HMS)) throw new Error(`${HMS} is missing: npm run build first`);
}

/** The OS accounts of the two-person DS approval (made once, as the one-writer test does; left, holding nothing). */
let made = false;
function accounts(): void {
  if (made) return;
  made = true;
  const exists = (db: string, name: string): boolean => spawnSync('getent', [db, name]).status === 0;
  for (const g of [CTL_GROUP, APPROVERS]) if (!exists('group', g)) sh('groupadd', ['--system', g]);
  if (!exists('passwd', BOB)) sh('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', BOB]);
  sh('usermod', ['-G', `${CTL_GROUP},${APPROVERS}`, BOB]);
}
const gid = (group: string): number => Number(sh('getent', ['group', group]).stdout.split(':')[2]);

/**
 * The strace trace of a run, as calls in the order logged, each with its count in its thread.
 * A call split by another thread's (`<unfinished ...>`) counts where it starts.
 */
export function parseTrace(text: string): Call[] {
  const counts = new Map<string, number>();
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+([a-z0-9_]+)\(/.exec(line);
    if (m === null || !TRACED.includes(m[2]!)) continue;
    const tid = Number(m[1]);
    const key = `${tid} ${m[2]!}`;
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    calls.push({ tid, syscall: m[2]!, n, line: line.slice(m[1]!.length).trim() });
  }
  return calls;
}

/** The call that (syscall, n) fires at: the first logged call that is the nth of its syscall in its thread. */
export function firing(calls: readonly Call[], syscall: string, n: number): Call | undefined {
  return calls.find((c) => c.syscall === syscall && c.n === n);
}

/** A trace line with the lab's folder, temporary names and data cut out: what a point is about. */
export function describeCall(line: string, lab: string): string {
  return line
    .split(lab)
    .join('LAB')
    .replace(/"(?:[^"\\]|\\.)*"(\.\.\.)?/g, (s) => (s.includes('LAB') ? s : '"…"'))
    .replace(/\.tmp[-.][A-Za-z0-9.-]+|\.hms-tmp-\d+/g, '.tmp-*')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'UUID')
    .replace(/\s+=\s+-?\d+.*$|\s+=\s+\?.*$/, '')
    .replace(/\s*<unfinished \.\.\.>$/, ')')
    .slice(0, 200);
}

/** mulberry32: the seeded PRNG of the random points. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The deterministic points of a traced run, then `random` more from the PRNG: before every
 * rename, fsync, fdatasync and unlink of a lab file, and after it (before the next traced call
 * of its thread); before the first, middle and last write to each lab file. A call that another
 * thread's count reaches first cannot be aimed at and is left out.
 */
export function choosePoints(calls: readonly Call[], lab: string, random: number, next: () => number): Point[] {
  const points = new Map<string, Point>();
  const add = (c: Call | undefined, what: string): void => {
    if (c === undefined || firing(calls, c.syscall, c.n) !== c) return;
    const key = `${c.syscall}:${c.n}`;
    if (!points.has(key)) points.set(key, { syscall: c.syscall, n: c.n, what });
  };
  const mine = calls.filter((c) => c.line.includes(lab));
  for (const c of mine) {
    if (WRITES.has(c.syscall)) continue;
    add(c, `before ${describeCall(c.line, lab)}`);
    const i = calls.indexOf(c);
    add(
      calls.slice(i + 1).find((d) => d.tid === c.tid),
      `after ${describeCall(c.line, lab)}`,
    );
  }
  const byFile = new Map<string, Call[]>();
  for (const c of mine.filter((c) => WRITES.has(c.syscall))) {
    const file = describeCall(/^\w+\(\d+<([^>]*)>/.exec(c.line)?.[1] ?? c.line, lab);
    byFile.set(file, [...(byFile.get(file) ?? []), c]);
  }
  for (const [file, ws] of byFile) {
    add(ws[0], `before the first write to ${file}`);
    add(ws[Math.floor(ws.length / 2)], `before the middle write (${Math.floor(ws.length / 2) + 1} of ${ws.length}) to ${file}`);
    add(ws[ws.length - 1], `before the last write (${ws.length} of ${ws.length}) to ${file}`);
  }
  const deterministic = points.size;
  for (let tries = 0; points.size < deterministic + random && tries < random * 20 && calls.length > 0; tries++) {
    const c = calls[Math.floor(next() * calls.length)]!;
    add(c, `random: before ${describeCall(c.line, lab)}`);
  }
  return [...points.values()];
}

interface Version {
  readonly serial: number;
  readonly digest: string;
}

/** A running hms (traced or not): its output so far. */
class Run {
  text = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(
    readonly child: ChildProcess,
    private readonly tracer = false,
  ) {
    child.stdout?.on('data', (c: Buffer) => (this.text += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (this.text += c.toString('utf8')));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }
  /** Running: not exited, and (between event loop turns, before the exit is reaped) no zombie. */
  get alive(): boolean {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return false;
    try {
      return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${this.child.pid!}/stat`, 'utf8'));
    } catch {
      return false;
    }
  }
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (pattern.test(this.text)) return true;
      if (!this.alive) return pattern.test(this.text);
      await sleep(100);
    }
    return false;
  }
  async stop(): Promise<void> {
    if (!this.alive) return;
    // strace leaves its tracee running when it is stopped: the service it started is stopped first
    if (this.tracer) {
      try {
        const children = readFileSync(`/proc/${this.child.pid!}/task/${this.child.pid!}/children`, 'utf8').trim();
        for (const pid of children.split(/\s+/).filter((p) => p !== '')) process.kill(Number(pid), 'SIGTERM');
      } catch {
        // the tracee is gone already
      }
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The settled service: the zone served, by a new signature or from the file on disk. */
const SETTLED = /"msg":"(zone signed and published|zone resumed: the signed version on disk is current)"/;

/** A lab: a folder with the configuration, zone, state and token of one point's run. */
export class Lab {
  readonly dir: string;
  readonly port: number;
  readonly env: NodeJS.ProcessEnv;
  /** Every version seen in this lab, by serial; the order they were seen in. */
  readonly versions = new Map<number, string>();
  private readonly seen: Version[] = [];
  private readonly validated = new Map<string, boolean>();
  readonly failures: string[] = [];
  readonly figures = zeroFigures();
  private readonly orphans = new Set<string>();
  restarts = 0;
  service: Run | undefined;
  private readonly runs: Run[] = [];

  /** A new lab, or a copy of `from` (its folder, token and the versions it saw), with the service stopped. */
  constructor(from?: Lab) {
    this.dir = mkdtempSync(join(tmpdir(), 'hms-crash-'));
    chmodSync(this.dir, 0o755);
    this.port = from?.port ?? 20000 + Math.floor(Math.random() * 30000);
    const conf = join(this.dir, 'softhsm2.conf');
    this.env = { ...process.env, SOFTHSM2_CONF: conf, UV_THREADPOOL_SIZE: '1' };
    this.knotConf();
    if (from !== undefined) {
      for (const f of ['hms.yaml', 'policy.yaml', 'pin', 'xfr.secret', 'xfr.key', 'zones', 'state', 'state-audit', 'tokens']) {
        if (existsSync(join(from.dir, f))) cpSync(join(from.dir, f), join(this.dir, f), { recursive: true, preserveTimestamps: true });
      }
      this.ctlDir();
      for (const [s, d] of from.versions) this.versions.set(s, d);
      this.seen.push(...from.seen);
      for (const [d, ok] of from.validated) this.validated.set(d, ok);
      writeFileSync(conf, `directories.tokendir = ${join(this.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
      return;
    }
    mkdirSync(join(this.dir, 'tokens'));
    writeFileSync(conf, `directories.tokendir = ${join(this.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const pin = randomBytes(8).toString('hex');
    const init = sh(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { initToken } from ${JSON.stringify(join(ROOT, 'dist/src/hsm/token-init.js'))};
      if (!initToken({ label: 'hms-crash', soPin: ${JSON.stringify(randomBytes(8).toString('hex'))}, pin: process.env.PIN })) process.exit(3);`,
      ],
      { env: { ...this.env, PIN: pin } },
    );
    if (init.status !== 0) throw new Error(`token init: ${init.stderr}`);
    writeFileSync(join(this.dir, 'pin'), pin, { mode: 0o600 });
    writeFileSync(join(this.dir, 'xfr.secret'), `${SECRET}\n`, { mode: 0o600 });
    writeFileSync(join(this.dir, 'xfr.key'), `key "xfr-key" { algorithm hmac-sha256; secret "${SECRET}"; };\n`, { mode: 0o600 });
    mkdirSync(join(this.dir, 'zones'));
    copyFileSync(join(ROOT, 'examples/zones/example.com.zone'), join(this.dir, 'zones/example.com.zone'));
    this.ctlDir();
    writeFileSync(
      join(this.dir, 'policy.yaml'),
      `policies:
  quick:
    description: the DP policy with waits of seconds and a serial counting up by one (a serial picked again is the same serial)
    ttl: { dnskey: 1s, nsec3param: 1s }
    soa: { minimum: 300, serial: counter }
    zone: { propagation-delay: 0, publish-safety: 0, retire-safety: 0 }
    parent: { propagation-delay: 0, ds-ttl: 1s, publish-safety: 0, retire-safety: 0 }
`,
    );
    writeFileSync(
      join(this.dir, 'hms.yaml'),
      hmsConfig({
        token: 'hms-crash',
        listen: `127.0.0.1:${this.port}`,
        policies: ['policy.yaml'],
        access: `  administrators: [user:root]
  operators: [user:root]
  approvers: [group:${APPROVERS}]`,
        service: `  control: ctl/hms.sock
  resign: "17 3 1 1 *"`,
        secondaries: { knot: { address: '127.0.0.4', notify: `127.0.0.4:${this.port + 1}` } },
        example: { zone: ZONE, input: 'zones/example.com.zone', policy: 'quick' },
      }),
      { mode: 0o644 },
    );
  }

  /** The listed secondary: a Knot DNS on 127.0.0.4, transferring with TSIG, acknowledging NOTIFY. */
  private knotConf(): void {
    knotSecondaryConf(join(this.dir, 'knot'), {
      zone: ZONE,
      address: '127.0.0.4',
      port: this.port + 1,
      primary: { address: '127.0.0.1', port: this.port },
      secret: SECRET,
      logLevel: 'warning',
      memoryOnly: true,
      transferOut: false,
    });
  }

  private ctlDir(): void {
    const ctl = join(this.dir, 'ctl');
    mkdirSync(ctl, { recursive: true });
    if (process.getuid?.() === 0) {
      accounts();
      chownSync(ctl, 0, gid(CTL_GROUP));
      chmodSync(ctl, 0o2750);
    }
  }

  get config(): string {
    return join(this.dir, 'hms.yaml');
  }

  /** The CLI, as root or (runuser) as the second person; bounded. */
  cli(args: readonly string[], as?: string): { status: number | null; stdout: string; stderr: string } {
    const cmd = [process.execPath, HMS, ...args, '--config', this.config];
    return as === undefined ? sh(cmd[0]!, cmd.slice(1), { env: this.env }) : sh('runuser', ['-u', as, '--', ...cmd], { env: this.env });
  }

  /** Starts hms run, untraced, and waits until the zone is served; false when it is not within the time. */
  async start(timeoutMs = 90_000): Promise<boolean> {
    this.startKnot();
    this.service = this.spawn([process.execPath, HMS, 'run', '--config', this.config]);
    return this.service.waitFor(SETTLED, timeoutMs);
  }

  /** Starts hms run under strace from its first call (the scenario is the start itself). */
  startTraced(log: string, point?: Point): Run {
    this.startKnot();
    this.service = this.spawn(['strace', ...this.straceArgs(log, point), process.execPath, HMS, 'run', '--config', this.config]);
    return this.service;
  }

  private knot: Run | undefined;
  private startKnot(): void {
    if (this.knot?.alive !== true) this.knot = this.spawn(['knotd', '-c', join(this.dir, 'knot/knot.conf')]);
  }

  /** Attaches strace to the running service (every thread), from now on. */
  async attach(log: string, point?: Point): Promise<Run> {
    const pid = this.service!.child.pid!;
    const tracer = this.spawn(['strace', ...this.straceArgs(log, point), '-p', String(pid)]);
    // strace says when it holds every thread ("Process N attached with T threads"); the trace counts from there
    for (let i = 0; i < 200 && !/Process \d+ attached/.test(tracer.text) && tracer.alive; i++) await sleep(50);
    if (!/Process \d+ attached/.test(tracer.text)) throw new Error(`strace did not attach to ${pid}: ${tracer.text}`);
    return tracer;
  }

  private straceArgs(log: string, point?: Point): string[] {
    return [
      '-f',
      '-y',
      '-o',
      log,
      '-e',
      `trace=${TRACED.join(',')}`,
      ...(point === undefined ? [] : ['-e', `inject=${point.syscall}:signal=KILL:when=${point.n}`]),
    ];
  }

  private spawn(argv: readonly string[]): Run {
    const r = new Run(
      spawn(argv[0]!, argv.slice(1), { cwd: this.dir, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] }),
      argv[0] === 'strace' && !argv.includes('-p'),
    );
    this.runs.push(r);
    return r;
  }

  fail(what: string): void {
    this.failures.push(what);
  }

  /** PRAGMA integrity_check on the state as it is. */
  integrity(when: string): void {
    const path = join(this.dir, 'state/hms.db');
    if (!existsSync(path)) return;
    try {
      const db = new Database(path, { timeout: 10_000 });
      try {
        const rows = db.pragma('integrity_check') as { integrity_check: string }[];
        const text = rows.map((r) => r.integrity_check).join('; ');
        if (text !== 'ok') {
          this.figures.integrityFailures++;
          this.fail(`${when}: integrity_check: ${text}`);
        }
      } finally {
        db.close();
      }
    } catch (e) {
      this.figures.integrityFailures++;
      this.fail(`${when}: the state cannot be opened: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** A version, from a zone file or an AXFR: its serial and the digest of its records in canonical form. */
  private version(file: string): Version | null {
    const c = sh('named-compilezone', ['-q', '-i', 'none', '-k', 'ignore', '-n', 'ignore', '-s', 'full', '-o', '-', ZONE, file]);
    if (c.status !== 0) return null;
    const lines = c.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => l.split(/\s+/).join(' '));
    const soa = lines.find((l) => /^\S+ \d+ IN SOA /.test(l));
    if (soa === undefined) return null;
    return { serial: Number(soa.split(' ')[6]), digest: createHash('sha256').update(lines.sort().join('\n')).digest('hex') };
  }

  /** Holds a version seen (served, or published on disk) against every version the lab saw, and validates it when new. */
  private holdVersion(file: string, where: string): void {
    const v = this.version(file);
    if (v === null) {
      this.figures.invalidVersions++;
      this.fail(`${where}: not a zone named-compilezone reads`);
      return;
    }
    const earlier = this.versions.get(v.serial);
    if (earlier !== undefined && earlier !== v.digest) {
      this.figures.reusedSerials++;
      this.fail(`${where}: serial ${v.serial} again, for other data`);
    }
    const last = this.seen.at(-1);
    if (last !== undefined && last.serial !== v.serial && !serialGreater(v.serial, last.serial)) {
      this.figures.lowerSerials++;
      this.fail(`${where}: serial ${v.serial} after ${last.serial}`);
    }
    this.versions.set(v.serial, v.digest);
    this.seen.push(v);
    if (!this.validated.has(v.digest)) {
      const out = sh(join(ROOT, 'scripts/verify-signed-zone'), [ZONE, file]).stdout.trim();
      const ok = out === 'PASS dnssec-verify\nPASS ldns-verify-zone\nPASS kzonecheck';
      this.validated.set(v.digest, ok);
      this.figures.versionsChecked++;
      if (!ok) {
        this.figures.invalidVersions++;
        this.fail(`${where}: serial ${v.serial} fails validation: ${out.replace(/\n/g, '; ')}`);
      }
    }
  }

  /** The signed file on disk (what a kill left published): a version that may have been served. */
  holdSignedFile(when: string): void {
    const file = join(this.dir, 'state/signed/example.com.signed');
    if (existsSync(file)) this.holdVersion(file, `${when}, the signed file on disk`);
  }

  /** AXFR with TSIG from the listed secondary's address: the version served now. */
  holdServed(when: string): void {
    const file = join(this.dir, `axfr-${this.seen.length}.zone`);
    const r = sh(
      'dig',
      [
        '-b',
        '127.0.0.4',
        '-k',
        join(this.dir, 'xfr.key'),
        `@127.0.0.1`,
        '-p',
        String(this.port),
        '+tries=1',
        '+time=5',
        '+onesoa',
        '+nocomments',
        '+nostats',
        '+nocmd',
        ZONE,
        'AXFR',
      ],
      { timeoutMs: 30_000 },
    );
    if (r.status !== 0 || !/\sSOA\s/.test(r.stdout)) {
      this.fail(`${when}: AXFR failed: ${(r.stdout + r.stderr).trim().slice(0, 300)}`);
      return;
    }
    // the TSIG record of each message is no part of the zone
    writeFileSync(
      file,
      r.stdout
        .split('\n')
        .filter((l) => !/\sANY\s+TSIG\s/.test(l))
        .join('\n'),
    );
    this.holdVersion(file, `${when}, served`);
    rmSync(file);
  }

  /** The audit chain, and the token's keys against the state (none missing, no orphan), through the running service. */
  holdAuditAndKeys(when: string): void {
    const audit = this.cli(['audit', 'verify']);
    if (audit.status !== 0) {
      this.figures.auditFailures++;
      this.fail(`${when}: hms audit verify: ${(audit.stdout + audit.stderr).trim().slice(0, 400)}`);
    }
    const keys = this.cli(['key', 'list', ZONE, '--json']);
    if (keys.status !== 0) {
      const missing = /recorded but missing from token/.test(keys.stderr);
      if (missing) this.figures.lostKeys += (/key\(s\) ([^;]*) recorded/.exec(keys.stderr)?.[1] ?? '').split(',').length;
      this.fail(`${when}: hms key list: ${keys.stderr.trim().slice(0, 400)}`);
      return;
    }
    const list = JSON.parse(keys.stdout) as { orphans?: { role: string; keyTag: number; id: string }[] };
    for (const o of list.orphans ?? []) {
      // counted once per key, though every check after it names it
      if (!this.orphans.has(o.id)) this.figures.orphanKeys++;
      this.orphans.add(o.id);
      this.fail(`${when}: orphan ${o.role.toUpperCase()} ${o.keyTag} (id ${o.id}) in the token, not in the state`);
    }
  }

  /** After a kill (or a run that ended): integrity, restart until served, then every check. */
  async recover(when: string): Promise<boolean> {
    this.integrity(`${when}, as the kill left it`);
    this.holdSignedFile(`${when}, as the kill left it`);
    this.restarts++;
    if (!(await this.start())) {
      this.fail(`${when}: the restarted service does not serve the zone: ${this.service!.text.slice(-1500)}`);
      return false;
    }
    this.checks(`${when}, after the restart`);
    return true;
  }

  checks(when: string): void {
    this.integrity(when);
    this.holdServed(when);
    this.holdSignedFile(when);
    this.holdAuditAndKeys(when);
  }

  async stop(): Promise<void> {
    for (const r of this.runs) await r.stop();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The zone's newest KSK tag, from hms key list. */
function kskTag(lab: Lab): number {
  const r = lab.cli(['key', 'list', ZONE, '--json']);
  const keys = (JSON.parse(r.stdout) as { keys: { role: string; keyTag: number }[] }).keys.filter((k) => k.role === 'ksk');
  if (keys.length === 0) throw new Error(`no KSK: ${r.stdout}${r.stderr}`);
  return keys.at(-1)!.keyTag;
}

/**
 * A scenario: `prepare` brings a new lab to just before the step (service stopped; done once,
 * and copied for every point), `step` runs it with a kill point or none, and resolves once
 * the step is done or the kill came.
 */
interface Scenario {
  prepare(lab: Lab): Promise<void>;
  step(lab: Lab, log: string, point?: Point): Promise<Run>;
}

/** A step made of CLI commands to the running service (`commands`), under strace attached just before; `before` runs untraced. */
function attached<T>(before: (lab: Lab) => T, commands: (lab: Lab, t: T, cli: (args: readonly string[], as?: string) => string) => void): Scenario['step'] {
  return async (lab, log, point) => {
    if (!(await lab.start())) throw new Error(`hms run does not settle before the step: ${lab.service!.text.slice(-1500)}`);
    const t = before(lab);
    const tracer = await lab.attach(log, point);
    const cli = (args: readonly string[], as?: string): string => {
      // a command after the kill would be applied by the CLI itself, without the service: not this scenario
      if (!lab.service!.alive) throw new Killed();
      const r = lab.cli(args, as);
      if (r.status !== 0) {
        // a kill during the request: the process may take a moment to be reaped
        for (let i = 0; i < 100 && lab.service!.alive; i++) spawnSync('sleep', ['0.05']);
        if (!lab.service!.alive) throw new Killed();
        throw new Error(`hms ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      }
      return r.stdout;
    };
    try {
      commands(lab, t, cli);
    } catch (e) {
      if (!(e instanceof Killed)) throw e;
    }
    // the service finishes what the commands started (publication, key events) inside the trace
    for (let i = 0; i < 15 && lab.service!.alive; i++) await sleep(100);
    return tracer;
  };
}
class Killed extends Error {}

async function settleOnce(lab: Lab): Promise<void> {
  if (!(await lab.start())) throw new Error(`hms run does not sign the zone: ${lab.service!.text.slice(-1500)}`);
}
const stopAfter =
  (extra: (lab: Lab) => Promise<void> = () => Promise.resolve()) =>
  async (lab: Lab): Promise<void> => {
    await settleOnce(lab);
    await extra(lab);
    await lab.stop();
  };

export const scenarios: Record<ScenarioName, Scenario> = {
  // the start of a service with a zone it never signed: keys made, the zone signed and published
  'first-signing': {
    prepare: () => Promise.resolve(),
    step: async (lab, log, point) => {
      const run = lab.startTraced(log, point);
      await run.waitFor(SETTLED, 120_000);
      for (let i = 0; i < 15 && run.alive; i++) await sleep(100);
      return run;
    },
  },
  // the daily re-sign of a zone served already (hms zone resign: the same path as the timer's)
  resign: {
    prepare: stopAfter(),
    step: attached(
      () => undefined,
      (_l, _t, cli) => cli(['zone', 'resign', ZONE]),
    ),
  },
  // a ZSK roll started by hand: a key made in the token, recorded, published
  'zsk-roll': {
    prepare: stopAfter(),
    step: attached(
      () => undefined,
      (_l, _t, cli) => cli(['key', 'rollover', ZONE, '--zsk', '--ticket', 'CRASH-1']),
    ),
  },
  // the first DS seen at the parent (asked by root), approved by a second person (bob, an approver)
  'ds-approval': {
    prepare: stopAfter(async () => {
      // the DS may be submitted a DNSKEY TTL after the secondaries serve the key
      await sleep(2500);
    }),
    step: attached(kskTag, (_l, ksk, cli) => {
      const seen = JSON.parse(cli(['ds', 'seen', ZONE, '--keytag', String(ksk), '--ticket', 'CRASH-2', '--json'])) as { request: string };
      cli(['approve', seen.request, '--ticket', 'CRASH-2'], BOB);
    }),
  },
};
