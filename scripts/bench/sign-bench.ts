/**
 * The signing half of `npm run bench` (issue 3): the raw HSM signing rate seen from Node
 * (nothing but C_Sign through pkcs11js, 1 and 2 sessions), `hms sign` throughput and peak
 * memory on generated zones, and `dnssec-signzone -n 2` with file keys on the same zones,
 * all as ratios to the raw 2-session RSA-1024 rate. Uses the development token (scripts/setup).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import pkcs11js from 'pkcs11js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { formatPrettyLine } from '../../src/audit/log-format.js';
import { Name } from '../../src/dns/name.js';
import { Algorithm } from '../../src/dnssec/algorithms.js';
import { deleteKey, generateKey, hsmSigner, type HsmKey } from '../../src/hsm/keys.js';
import { nativeAddonError } from '../../src/common/native-addon.js';
import { Token, type SigningMode } from '../../src/hsm/token.js';
import { generateZone } from './zone-generator.js';
import { hmsNode } from './service-lab.js';

const TIMEOUT_MS = 1_800_000;
/** Rounds on the 100k zone. */
const ROUNDS = 5;
const RSA1024 = { algorithm: Algorithm.RSASHA256, bits: 1024 } as const;
const pct = (ratio: number, digits = 0): string => `${(ratio * 100).toFixed(digits)}%`;

/**
 * Nothing but signatures for `seconds`: `threads` through the signing threads (each session's
 * thread calls the blocking C_SignInit/C_Sign; 64 requests kept waiting per session so that
 * none idles), `async` through pkcs11js's C_SignAsync from the main thread, one in flight
 * per session.
 */
async function rawRate(pin: string, spec: { algorithm: number; bits?: number }, sessions: number, mode: SigningMode, seconds: number): Promise<number> {
  const token = Token.open({ label: 'hms', pin, sessions });
  try {
    if (mode === 'threads') await token.startSigningThreads();
    const key = generateKey(token, Name.parse('bench-raw.invalid.'), 'zsk', spec);
    try {
      const signer = hsmSigner(token, key);
      const data = randomBytes(120);
      let count = 0;
      const until = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: mode === 'threads' ? sessions * 64 : sessions }, async () => {
          while (performance.now() < until) {
            await signer.sign(data);
            count++;
          }
        }),
      );
      return count / ((performance.now() - started) / 1000);
    } finally {
      deleteKey(token, key);
    }
  } finally {
    await token.close();
  }
}

/**
 * The bare loop: one worker thread per session, each with its own session, signing in a tight
 * loop of C_SignInit/C_Sign and nothing else (no batches, no promises, no main thread): what
 * the module gives Node at best, the reference the goal is measured against. The threads
 * wait (Atomics.wait, no CPU) between slices of signing, so that the loop can take turns with
 * a process under test (see `interleaved`). With `copies`, each thread signs with a session
 * copy of the key, as hms's signing threads do (see SigningPool): on SoftHSM that is 10-15%
 * faster than the token object both sessions share.
 */
export class BareLoop {
  /** [0]: 1 sign, 0 wait, 2 end; [1]: signatures made; [2]: threads back to waiting. */
  private readonly shared = new Int32Array(new SharedArrayBuffer(12));
  private total = 0;

  private constructor(
    private readonly token: Token,
    private readonly key: HsmKey,
    private readonly workers: Worker[],
  ) {}

  /** `label`: the token (default the development token, hms). */
  static async start(pin: string, spec: { algorithm: number; bits?: number }, sessions: number, copies = false, label = 'hms'): Promise<BareLoop> {
    const token = Token.open({ label, pin, sessions: 1 });
    const key = generateKey(token, Name.parse('bench-raw.invalid.'), 'zsk', spec);
    const loop = new BareLoop(token, key, []);
    const mechanism = spec.algorithm === Algorithm.RSASHA256 ? pkcs11js.CKM_SHA256_RSA_PKCS : pkcs11js.CKM_ECDSA;
    const input = spec.algorithm === Algorithm.RSASHA256 ? randomBytes(120) : randomBytes(32);
    const code = `
      const { parentPort, workerData: w } = process.getBuiltinModule('node:worker_threads');
      const pkcs11js = process.getBuiltinModule('node:module').createRequire(w.pkcs11js)('pkcs11js');
      const p = new pkcs11js.PKCS11();
      p.load(w.module);
      try { p.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK }); } catch (e) { if (e.code !== 0x191) throw e; }
      const s = p.C_OpenSession(Buffer.from(w.slot), pkcs11js.CKF_SERIAL_SESSION);
      const key = w.copies ? p.C_CopyObject(s, Buffer.from(w.key), [{ type: pkcs11js.CKA_TOKEN, value: false }]) : Buffer.from(w.key);
      const data = Buffer.from(w.data), out = Buffer.alloc(512), mech = { mechanism: w.mechanism };
      const f = w.shared;
      parentPort.postMessage('ready');
      for (;;) {
        Atomics.wait(f, 0, 0);
        if (Atomics.load(f, 0) === 2) break;
        let n = 0;
        while (Atomics.load(f, 0) === 1) { p.C_SignInit(s, mech, key); p.C_Sign(s, data, out); n++; }
        Atomics.add(f, 1, n);
        Atomics.add(f, 2, 1);
      }
      p.C_CloseSession(s);
      parentPort.postMessage('closed');`;
    try {
      for (let i = 0; i < sessions; i++) {
        const worker = new Worker(code, {
          eval: true,
          workerData: {
            pkcs11js: createRequire(import.meta.url).resolve('pkcs11js'),
            module: token.modulePath,
            slot: Uint8Array.from(token.slot),
            key: Uint8Array.from(key.privateKey),
            data: Uint8Array.from(input),
            mechanism,
            shared: loop.shared,
            copies,
          },
        });
        loop.workers.push(worker);
        await new Promise((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      }
    } catch (e) {
      await loop.close();
      throw e;
    }
    return loop;
  }

  /** Signs for about `ms` milliseconds; the signatures made and the time they took. */
  async slice(ms: number): Promise<{ signatures: number; ms: number }> {
    const f = this.shared;
    Atomics.store(f, 2, 0);
    const started = performance.now();
    Atomics.store(f, 0, 1);
    Atomics.notify(f, 0);
    await sleep(ms);
    Atomics.store(f, 0, 0);
    while (Atomics.load(f, 2) < this.workers.length) await sleep(1);
    const took = performance.now() - started;
    const signatures = Atomics.load(f, 1) - this.total;
    this.total += signatures;
    return { signatures, ms: took };
  }

  async close(): Promise<void> {
    Atomics.store(this.shared, 0, 2);
    Atomics.notify(this.shared, 0);
    await Promise.all(this.workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
    try {
      deleteKey(this.token, this.key);
    } finally {
      await this.token.close();
    }
  }
}

/** The bare loop's rate over `seconds` (signatures/s). */
async function bareRate(pin: string, spec: { algorithm: number; bits?: number }, sessions: number, seconds: number, copies = false): Promise<number> {
  const loop = await BareLoop.start(pin, spec, sessions, copies);
  try {
    const { signatures, ms } = await loop.slice(seconds * 1000);
    return signatures / (ms / 1000);
  } finally {
    await loop.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Seconds a process under test runs between two stops, and the seconds of each bare loop's slice at a stop. */
const TURN = 2;
const SLICE = 0.5;

interface Interleaved {
  /** The process's running time (its wall time less the slices it was stopped for). */
  readonly seconds: number;
  readonly peakMiB: number;
  readonly ok: boolean;
  readonly err: string;
  readonly stdout: string;
  /** Each bare loop's rate over its slices. */
  readonly bare: readonly number[];
  /** The stops. */
  readonly stops: number;
}

/**
 * Runs a command and bare loops in turns: TURN seconds of the command, then the command
 * stopped (SIGSTOP to its process group) and SLICE seconds of each bare loop, then SIGCONT,
 * until the command ends. The host's speed moves by 10-40% from one second to the next here
 * (a shared machine): a reference taken before and after a run missed what the run met, and
 * the same code measured from 70% to 93% of it. Taken in turns, the command and its
 * reference see the same minutes, and the ratio repeats within a few percent.
 */
export async function interleaved(cmd: string, args: readonly string[], cwd: string, loops: readonly BareLoop[]): Promise<Interleaved> {
  const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  // hms's progress lines (JSON on a pipe, one every 5 s) go on to the bench's stderr as one
  // readable line each, while it signs; the rest of stderr is kept for the timing and errors
  let partial = '';
  child.stderr.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.includes('"msg":"signing progress"')) process.stderr.write(`  ${formatPrettyLine(line)}\n`);
      else stderr = (stderr + line + '\n').slice(-4096);
    }
  });
  let ended = false;
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      ended = true;
      resolve(code);
    }),
  );
  const started = performance.now();
  const turns = await takeTurns(
    -child.pid!,
    loops,
    exited,
    () => ended,
    () => process.kill(-child.pid!, 'SIGKILL'),
  );
  const code = await exited;
  stderr = (stderr + partial).slice(-4096);
  const seconds = (performance.now() - started - turns.stoppedMs) / 1000;
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr);
  return {
    seconds,
    peakMiB: m ? Number(m[2]) / 1024 : NaN,
    ok: code === 0,
    err: stderr.slice(-300),
    stdout,
    bare: turns.bare,
    stops: turns.stops,
  };
}

/**
 * The turns of `interleaved`: until `done` settles (`isDone` says so at once), every TURN
 * seconds the process `target` (a pid, or a process group as -pgid) is stopped (SIGSTOP),
 * each bare loop signs for SLICE seconds, and it is continued. After TIMEOUT_MS `giveUp` is
 * called and the turns end. The time it was stopped, each loop's rate over its slices, and
 * the stops.
 */
export async function takeTurns(
  target: number,
  loops: readonly BareLoop[],
  done: Promise<unknown>,
  isDone: () => boolean,
  giveUp: () => void,
): Promise<{ stoppedMs: number; bare: number[]; stops: number }> {
  const started = performance.now();
  let stoppedMs = 0;
  const bareSignatures = loops.map(() => 0);
  const bareMs = loops.map(() => 0);
  let stops = 0;
  while (!isDone()) {
    await Promise.race([sleep(TURN * 1000), done]);
    if (isDone()) break;
    if (performance.now() - started > TIMEOUT_MS) {
      giveUp();
      break;
    }
    const stop = performance.now();
    process.kill(target, 'SIGSTOP');
    try {
      for (const [i, loop] of loops.entries()) {
        const slice = await loop.slice(SLICE * 1000);
        bareSignatures[i]! += slice.signatures;
        bareMs[i]! += slice.ms;
      }
    } finally {
      process.kill(target, 'SIGCONT');
    }
    stoppedMs += performance.now() - stop;
    stops++;
  }
  return { stoppedMs, bare: bareMs.map((ms, i) => (ms > 0 ? bareSignatures[i]! / (ms / 1000) : NaN)), stops };
}

/** RRSIG records in a zone file, counted in ldns-read-zone's one-record-per-line output. */
function countRrsigs(file: string): number {
  const r = spawnSync('sh', ['-c', 'ldns-read-zone "$1" | awk -F "\t" \'$4 == "RRSIG"\' | wc -l', 'sh', file], { encoding: 'utf8', timeout: TIMEOUT_MS });
  return Number(r.stdout.trim());
}

export async function signBench(root: string, sizes: readonly number[]): Promise<void> {
  const out = join(root, 'bench-out');
  mkdirSync(out, { recursive: true });
  process.env.SOFTHSM2_CONF = join(root, 'softhsm.conf');
  const pin = readFileSync(join(root, 'hsm/pin'), 'utf8').trim();
  process.chdir(root);

  console.log(
    "\n## Signing\n\nraw HSM signing rate through pkcs11js (3 s each; signatures/s): async C_Sign from the main thread; hms's signing threads (batches); a bare C_SignInit/C_Sign loop per thread\n",
  );
  console.log(
    '| key | 1 session, async C_Sign | 2 sessions, async C_Sign | 1 session, thread | 2 sessions, threads | 1 session, bare loop | 2 sessions, bare loop | 1 session, bare loop, session copy | 2 sessions, bare loop, session copies |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  const raw: Record<string, number[]> = {};
  for (const [name, spec] of [
    ['RSA-1024', { algorithm: Algorithm.RSASHA256, bits: 1024 }],
    ['RSA-2048', { algorithm: Algorithm.RSASHA256, bits: 2048 }],
    ['ECDSA P-256', { algorithm: Algorithm.ECDSAP256SHA256 }],
  ] as const) {
    const rates: number[] = [];
    for (const mode of ['async', 'threads'] as const) for (const sessions of [1, 2]) rates.push(await rawRate(pin, spec, sessions, mode, 3));
    for (const copies of [false, true]) for (const sessions of [1, 2]) rates.push(await bareRate(pin, spec, sessions, 3, copies));
    raw[name] = rates;
    console.log(`| ${name} | ${rates.map((r) => r.toFixed(0)).join(' | ')} |`);
  }
  const best = Math.max(...raw['RSA-1024']!);
  console.log(`\nbest raw RSA-1024 rate above: ${best.toFixed(0)} signatures/s`);
  // The goal's reference: the bare 2-session RSA-1024 loops (on the token's key, and on
  // session copies as hms signs) taking turns with each run (see interleaved), the faster of
  // the two; the 100k zone is signed ROUNDS times and the goal takes the median ratio. The
  // ratio to the best raw rate of the table above is shown beside it.
  const addonError = nativeAddonError();
  console.log(
    `\nhms's zone verifier: ${addonError === undefined ? 'RSA batches with the native addon (native/)' : `RSA batches with BigInt only, the native addon is not loaded: ${addonError}`}`,
  );
  console.log(
    `\neach run takes turns with the bare 2-session RSA-1024 loops: ${TURN} s of the run, then the run stopped (SIGSTOP) and ${SLICE} s of each loop (the token's key; session copies); seconds are the run's own, a loop's rate is over its slices, the reference is the faster loop\n`,
  );
  console.log(
    '| zone | tool | round | seconds | signatures | signatures/s | bare loops: token key / session copies (stops) | vs token key / session copies | vs best raw rate | peak MiB |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
  const loops = [await BareLoop.start(pin, RSA1024, 2), await BareLoop.start(pin, RSA1024, 2, true)];
  try {
    for (const records of sizes) await signZoneSize(root, out, records, loops, best);
  } finally {
    for (const loop of loops) await loop.close();
  }
}

async function signZoneSize(root: string, out: string, records: number, loops: readonly BareLoop[], best: number): Promise<void> {
  const unsigned = join(out, `sign-${records}.zone`);
  await generateZone(unsigned, 'bench.example', records);
  const signedOurs = join(out, `sign-${records}.hms.signed`);
  const rounds = records >= 1_000_000 || records < 100_000 ? 1 : ROUNDS;
  const ratios: number[] = [];
  let peak = 0;
  const row = (tool: string, round: number, run: Interleaved, signatures: number): number => {
    const rate = signatures / run.seconds;
    console.log(
      `| ${records} | ${tool} | ${round} | ${run.seconds.toFixed(2)} | ${signatures} | ${rate.toFixed(0)} | ${run.bare.map((r) => r.toFixed(0)).join(' / ')} (${run.stops}) | ${run.bare.map((r) => pct(rate / r)).join(' / ')} | ${pct(rate / best)} | ${run.peakMiB.toFixed(0)} |${run.ok ? '' : ` FAILED: ${run.err}`}`,
    );
    return rate / Math.max(...run.bare);
  };
  for (let round = 1; round <= rounds; round++) {
    const ours = await interleaved(
      process.execPath,
      [
        ...hmsNode(root),
        'sign',
        '--origin',
        'bench.example',
        '--in',
        unsigned,
        '--out',
        signedOurs,
        '--pin-file',
        'hsm/pin',
        '--now',
        '2026-11-22T12:00:00Z',
        '--json',
      ],
      root,
      loops,
    );
    const signatures = ours.ok ? (JSON.parse(ours.stdout) as { signatures: number }).signatures : 0;
    ratios.push(row('hms sign (RSA 2048/1024, NSEC3)', round, ours, signatures));
    peak = Math.max(peak, ours.peakMiB);
  }
  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
  // BIND with file keys, the same algorithms and NSEC3
  const keyDir = join(out, `bind-keys-${records}`);
  rmSync(keyDir, { recursive: true, force: true });
  mkdirSync(keyDir);
  spawnSync('dnssec-keygen', ['-q', '-K', keyDir, '-a', 'RSASHA256', '-b', '1024', 'bench.example'], { encoding: 'utf8' });
  spawnSync('dnssec-keygen', ['-q', '-K', keyDir, '-f', 'KSK', '-a', 'RSASHA256', '-b', '2048', 'bench.example'], { encoding: 'utf8' });
  const signedBind = join(out, `sign-${records}.bind.signed`);
  const bind = await interleaved(
    'dnssec-signzone',
    ['-q', '-n', '2', '-S', '-K', keyDir, '-d', keyDir, '-o', 'bench.example', '-3', '-', '-f', signedBind, unsigned],
    root,
    loops,
  );
  row('dnssec-signzone -n 2 (file keys)', 1, bind, bind.ok ? countRrsigs(signedBind) : 0);
  if (records >= 100_000) {
    const which = ratios.length > 1 ? `the median of ${ratios.map((r) => pct(r, 1)).join(', ')}` : pct(median, 1);
    console.log(
      `${median >= 0.85 ? 'MET' : 'MISSED'}: hms sign at 85% or more of the raw 2-session rate (the faster bare loop) on ${records} records (${which})`,
    );
  }
  if (records >= 1_000_000) console.log(`${peak < 2048 ? 'MET' : 'MISSED'}: hms sign peak memory under 2 GiB (${peak.toFixed(0)} MiB)`);
}
