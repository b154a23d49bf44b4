/**
 * `npm run bench`: its parts in turn, each alone with `--only PART[,PART]`, or all but some
 * with `--skip PART[,PART]`:
 *   check         generates a zone (1,000,000 records by default; `--records N`) and times
 *                 (best of `--repeat N`, default 3), with GNU time, `hms zone check`,
 *                 `named-checkzone` and `kzonecheck` on the same file: wall seconds and peak
 *                 memory. Goals (issue 2): hms no slower than named-checkzone, and its peak
 *                 memory under 1.5 GiB.
 *   sign          the signing benchmark (sign-bench.ts) on `--sign-records` sizes (default
 *                 10000,100000,1000000; `--no-sign` skips it).
 *   service-100k  the daily re-sign through `hms run` (service-resign.ts) of 100,000 records,
 *                 `hms sign` of the same file after each: goal (issue 20) no slower than `hms sign`.
 *   service-1m    the same on `--service-records N` (default 1,000,000), `--resigns N` (3) in a
 *                 row, `hms sign` after the first only: goals 85% of the bare session-copy loop,
 *                 peak RSS at most 800 MiB, no growth.
 *   zones         many small zones in one `hms run` (zones-bench.ts) at `--zones` counts
 *                 (default 100,1000): first start, restart, `hms zone resign --all`; goals for
 *                 1,000 zones; the per-zone costs and the arithmetic for `--project` counts
 *                 (default 10000,100000).
 *   zones-10k     (only when asked) the same at 1,000 and 10,000 zones.
 * `--no-service` skips the service parts. The service parts run in processes of their own
 * (SoftHSM reads SOFTHSM2_CONF once per process, and each has a token of its own). Goals
 * missed are printed as MISSED; the exit code stays 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { signBench } from './sign-bench.js';
import { hmsNode } from './service-lab.js';
import { generateZone } from './zone-generator.js';

const ROOT = join(import.meta.dirname, '../../..');
const OUT = join(ROOT, 'bench-out');
const ORIGIN = 'bench.example';
const TIMEOUT_MS = 600_000;

interface Timing {
  readonly tool: string;
  readonly seconds: number;
  readonly peakMiB: number;
  readonly ok: boolean;
  readonly note: string;
}

/**
 * The best of `repeat` runs of each tool (the least disturbed by whatever else the machine
 * does), the tools taking turns: this host's speed moves within minutes, and three runs of
 * one tool followed by three of the next would compare different machines.
 */
function bestOfEach(repeat: number, tools: readonly (readonly [string, string, string[]])[]): Timing[] {
  const runs: Timing[][] = tools.map(() => []);
  for (let r = 0; r < repeat; r++) tools.forEach(([tool, cmd, args], i) => runs[i]!.push(timed(tool, cmd, args)));
  return runs.map((list) => list.reduce((a, b) => (b.seconds < a.seconds ? b : a)));
}

function timed(tool: string, cmd: string, args: string[]): Timing {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', cmd, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: TIMEOUT_MS,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${tool}: ${r.error.message} (is the package 'time' installed? run scripts/setup)`);
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr);
  if (!m) throw new Error(`${tool}: no timing in its output: ${r.stderr.slice(-300)}`);
  const lastLine = (r.stdout + r.stderr.replace(/TIME .*$/, '')).trim().split('\n').pop() ?? '';
  return { tool, seconds: Number(m[1]), peakMiB: Number(m[2]) / 1024, ok: r.status === 0, note: lastLine.slice(0, 80) };
}

const PARTS = ['check', 'sign', 'service-100k', 'service-1m', 'zones', 'zones-10k'] as const;
type Part = (typeof PARTS)[number];

/** The parts to run: `--only`, else all but `--skip`, `--no-sign`, `--no-service` and zones-10k. */
function partsAsked(): Set<Part> {
  const list = (flag: string): Part[] => {
    const at = process.argv.indexOf(flag);
    if (at < 0) return [];
    const names = (process.argv[at + 1] ?? '').split(',');
    for (const n of names) if (!(PARTS as readonly string[]).includes(n)) throw new Error(`${flag}: '${n}' is not one of ${PARTS.join(', ')}`);
    return names as Part[];
  };
  const only = list('--only');
  if (only.length > 0) return new Set(only);
  const skip = new Set<Part>([...list('--skip'), 'zones-10k']);
  if (process.argv.includes('--no-sign')) skip.add('sign');
  if (process.argv.includes('--no-service')) for (const p of ['service-100k', 'service-1m', 'zones'] as const) skip.add(p);
  return new Set(PARTS.filter((p) => !skip.has(p)));
}

/** A benchmark script of dist/scripts/bench in a process of its own, its output on ours; a failure is reported, the bench goes on. */
function script(name: string, args: readonly string[]): void {
  console.log(`\n$ node dist/scripts/bench/${name} ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [join(import.meta.dirname, name), ...args], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) console.log(`MISSED: ${name} ${args.join(' ')} did not complete (exit ${r.status ?? r.signal})`);
}

async function main(): Promise<void> {
  const arg = (flag: string, fallback: number): number => {
    const at = process.argv.indexOf(flag);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const text = (flag: string, fallback: string): string => {
    const at = process.argv.indexOf(flag);
    return at >= 0 ? (process.argv[at + 1] ?? '') : fallback;
  };
  const parts = partsAsked();
  const records = arg('--records', 1_000_000);
  const repeat = arg('--repeat', 3);
  const serviceRecords = arg('--service-records', 1_000_000);
  const resigns = arg('--resigns', 3);
  if (!Number.isInteger(records) || records < 100) throw new Error('--records takes a whole number of at least 100');
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat takes a whole number of at least 1');
  if (!Number.isInteger(serviceRecords) || serviceRecords < 100) throw new Error('--service-records takes a whole number of at least 100');
  if (!Number.isInteger(resigns) || resigns < 1) throw new Error('--resigns takes a whole number of at least 1');
  const signSizes = text('--sign-records', '10000,100000,1000000').split(',').map(Number);
  if (signSizes.some((n) => !Number.isInteger(n) || n < 100)) throw new Error('--sign-records takes sizes like 10000,100000');
  console.log(`parts: ${[...parts].join(', ')}; ${machine()}`);
  if (parts.has('check')) await checkPart(records, repeat);
  if (parts.has('sign')) await signBench(ROOT, signSizes);
  if (parts.has('service-100k')) script('service-resign.js', ['--records', '100000', '--resigns', String(resigns)]);
  if (parts.has('service-1m')) script('service-resign.js', ['--records', String(serviceRecords), '--resigns', String(resigns), '--signs', '1']);
  if (parts.has('zones')) script('zones-bench.js', ['--zones', text('--zones', '100,1000'), '--project', text('--project', '10000,100000')]);
  if (parts.has('zones-10k')) script('zones-bench.js', ['--zones', '1000,10000', '--project', '100000']);
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
}

/** The machine: cores, memory, CPU, the date and the load (the host is shared: the figures are its). */
function machine(): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  return `${cpus().length} cores (${model}), ${Math.round(totalmem() / 2 ** 20)} MiB, ${new Date().toISOString()}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}`;
}

async function checkPart(records: number, repeat: number): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, `bench-${records}.zone`);
  const written = await generateZone(file, ORIGIN, records);
  console.log(`zone ${ORIGIN}: ${written} records in ${file}`);

  console.log(`each tool runs ${repeat} times, the tools taking turns; the best run counts`);
  const runs = bestOfEach(repeat, [
    ['hms zone check', process.execPath, [...hmsNode(ROOT), 'zone', 'check', file, '--origin', ORIGIN]],
    // -i local: the default full integrity check resolves out-of-zone names over the network,
    // which measures the network (absent here), not the zone checker
    ['named-checkzone -i local', 'named-checkzone', ['-q', '-i', 'local', ORIGIN, file]],
    ['kzonecheck', 'kzonecheck', ['-o', ORIGIN, file]],
  ]);
  const named = runs[1]!;
  console.log('\n| tool | seconds | peak MiB | vs named-checkzone | exit ok |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of runs) {
    console.log(
      `| ${r.tool} | ${r.seconds.toFixed(2)} | ${r.peakMiB.toFixed(0)} | ${(r.seconds / named.seconds).toFixed(2)}x | ${r.ok ? 'yes' : `NO: ${r.note}`} |`,
    );
  }
  const hms = runs[0]!;
  console.log('');
  console.log(
    `${hms.seconds <= named.seconds ? 'MET' : 'MISSED'}: hms zone check no slower than named-checkzone (${hms.seconds.toFixed(2)} s vs ${named.seconds.toFixed(2)} s)`,
  );
  console.log(`${hms.peakMiB < 1536 ? 'MET' : 'MISSED'}: hms peak memory under 1.5 GiB (${hms.peakMiB.toFixed(0)} MiB)`);
  if (!runs.every((r) => r.ok)) console.log('MISSED: every tool must accept the generated zone');
}

await main();
