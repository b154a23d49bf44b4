/**
 * `npm run bench`: generates a zone (1,000,000 records by default; `--records N`) and times
 * (best of `--repeat N`, default 3),
 * with GNU time, `hms zone check`, `named-checkzone` and `kzonecheck` on the same file:
 * wall seconds and peak memory. Goals (issue 2): hms no slower than named-checkzone, and its
 * peak memory under 1.5 GiB. Then the signing benchmark (sign-bench.ts) on `--sign-records`
 * sizes (default 10000,100000,1000000; `--no-sign` skips it). Goals missed are printed as MISSED; the
 * exit code stays 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { hmsNode, signBench } from './sign-bench.js';
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

async function main(): Promise<void> {
  const arg = (flag: string, fallback: number): number => {
    const at = process.argv.indexOf(flag);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const records = arg('--records', 1_000_000);
  const repeat = arg('--repeat', 3);
  if (!Number.isInteger(records) || records < 100) throw new Error('--records takes a whole number of at least 100');
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error('--repeat takes a whole number of at least 1');
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

  const signAt = process.argv.indexOf('--sign-records');
  const signSizes = process.argv.includes('--no-sign') ? [] : (signAt >= 0 ? (process.argv[signAt + 1] ?? '') : '10000,100000,1000000').split(',').map(Number);
  if (signSizes.some((n) => !Number.isInteger(n) || n < 100)) throw new Error('--sign-records takes sizes like 10000,100000');
  if (signSizes.length > 0) await signBench(ROOT, signSizes);
}

await main();
