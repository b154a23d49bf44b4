/**
 * scripts/crash-search: the full crash-safety search (lab.ts, search.ts) with a seed; prints
 * each point as it is tried and the figures at the end. Options: --seed N (default: the time),
 * --random K random points per scenario (default 8), --limit N points per scenario at most,
 * --scenario NAME (repeatable; default all: first-signing, resign, zsk-roll, ds-approval),
 * --json FILE (every outcome). The exit code is 1 when a point found a failure.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { requireTools, SCENARIOS, type ScenarioName } from './lab.js';
import { search, totals } from './search.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    random: { type: 'string', default: '8' },
    limit: { type: 'string' },
    scenario: { type: 'string', multiple: true },
    json: { type: 'string' },
  },
});
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);
const chosen = (values.scenario ?? [...SCENARIOS]) as ScenarioName[];
for (const s of chosen) if (!SCENARIOS.includes(s)) throw new Error(`--scenario: no scenario '${s}' (${SCENARIOS.join(', ')})`);
requireTools();
console.log(`crash search: seed ${seed}, ${values.random} random points per scenario, scenarios ${chosen.join(', ')}`);
const started = Date.now();
const results = await search({
  scenarios: chosen,
  seed,
  random: Number(values.random),
  ...(values.limit === undefined ? {} : { limit: Number(values.limit) }),
  progress: (o) =>
    console.log(
      `${o.failures.length === 0 ? 'ok  ' : 'FAIL'} ${o.scenario} ${o.point.syscall}#${o.point.n} ${o.point.what}${o.killed ? '' : ' (not reached: this run made fewer such calls; stopped instead)'}${o.hit === null ? '' : `\n       hit: ${o.hit}`}${o.failures.map((f) => `\n       ${f}`).join('')}`,
    ),
});
for (const r of results) {
  console.log(
    `${r.scenario}: ${r.calls} traced calls, ${r.outcomes.length} points, ${r.outcomes.filter((o) => o.failures.length > 0).length} with failures${r.baseline.length === 0 ? '' : `; the run without a kill failed: ${r.baseline.join('; ')}`}`,
  );
}
const t = totals(results);
console.log(
  `seed ${seed}: points tried ${t.points}, killed ${t.killed}, restarts ${t.restarts}, versions validated ${t.versionsChecked}; lost keys ${t.lostKeys}, orphan keys ${t.orphanKeys}, reused serials ${t.reusedSerials}, lowered serials ${t.lowerSerials}, invalid versions served ${t.invalidVersions}, integrity failures ${t.integrityFailures}, audit chain failures ${t.auditFailures}; points with failures ${t.pointsWithFailures}; ${Math.round((Date.now() - started) / 1000)} s`,
);
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ seed, results, totals: t }, null, 2)}\n`);
process.exitCode = t.pointsWithFailures > 0 || results.some((r) => r.baseline.length > 0) ? 1 : 0;
